/**
 * The emulator as a user runs it and the loads the door benchmarks put on it: shared by
 * `npm run bench:ingest` and `npm run bench:durability`.
 */
import { randomUUID } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { freePort } from '../local-services';
import { quantile, runOpenLoop } from '../load-test/open-loop';
import { sampleEvent, signedHeaders } from '../sample-event';
import { cpuSecondsOf, procFilesOf, processTree } from './process-group';

export const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 100);
/** The dev stage's default signing secret: the bench sets no WEBHOOK_SECRETS. */
export const SECRET = 'dev-secret-change-me';

export interface Figures {
  label: string;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  max: number;
  total: number;
  non2xx: number;
  errors: number;
  /** CPU time the emulator's processes used per request during the load (µs). */
  emulatorCpuPerRequest: number;
}

export interface Emulator {
  child: ChildProcess;
  base: string;
  /** What the emulator printed since the last call (cleared by each call). */
  takeOutput(): string;
  stop(): Promise<void>;
}

/**
 * `npm run offline` with its output on a pseudo-terminal (util-linux `script`), as a user sees
 * it in a terminal: a terminal is written synchronously, which is part of what a log line costs.
 */
export async function startEmulator(env: Record<string, string>, extraArgs: string[] = []): Promise<Emulator> {
  const port = await freePort();
  const command = ['npm', 'run', '--silent', 'offline', ...(extraArgs.length ? ['--', ...extraArgs] : [])].join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    env: { ...process.env, ...env, HTTP_PORT: String(port), OFFLINE_LAMBDA_PORT: String(await freePort()) },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > 64 * 2 ** 20) output = output.slice(-32 * 2 ** 20);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null || i > 240) throw new Error(`offline did not start:\n${output.slice(-3000)}`);
    if (
      await fetch(`${base}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    await sleep(500);
  }
  return {
    child,
    base,
    takeOutput: () => {
      const taken = output;
      output = '';
      return taken;
    },
    async stop() {
      const exited = new Promise((done) => child.once('exit', done));
      try {
        process.kill(-child.pid!, 'SIGINT');
      } catch {
        return;
      }
      await Promise.race([exited, sleep(10_000)]);
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    },
  };
}

/** CPU seconds used so far by the emulator: `script`, npm and the Node process under them. */
function emulatorCpuSeconds(emulator: Emulator): number {
  return cpuSecondsOf(procFilesOf(processTree(emulator.child.pid!), 'stat'));
}

export const signedUnique = (prefix: string) => {
  const body = JSON.stringify(sampleEvent({ eventId: `${prefix}-${randomUUID()}` }));
  return { body, headers: signedHeaders(SECRET, body) };
};

export async function closedLoop(label: string, url: string, emulator: Emulator, seconds = SECONDS): Promise<Figures> {
  const cpuBefore = emulatorCpuSeconds(emulator);
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [{ method: 'POST', setupRequest: (request) => ({ ...request, ...signedUnique('bench') }) }],
  });
  emulator.takeOutput();
  return {
    label,
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    total: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    emulatorCpuPerRequest: ((emulatorCpuSeconds(emulator) - cpuBefore) * 1e6) / Math.max(1, result.requests.total),
  };
}

export async function openLoop(url: string, rate: number, seconds: number) {
  const result = await runOpenLoop({ url, rate, total: rate * seconds, connections: 400, next: () => signedUnique('open') });
  const l = result.latenciesMs;
  return {
    ...result,
    p50: quantile(l, 0.5),
    p90: quantile(l, 0.9),
    p99: quantile(l, 0.99),
    max: l[l.length - 1] ?? 0,
    non2xx: Object.entries(result.statusCodes)
      .filter(([code]) => !code.startsWith('2'))
      .reduce((sum, [, n]) => sum + n, 0),
  };
}

export function row(f: Figures): string {
  return `| ${f.label} | ${f.requestsPerSecond.toFixed(0)} | ${f.p50} | ${f.p99} | ${f.max} | ${f.total} | ${f.non2xx} | ${f.errors} | ${f.emulatorCpuPerRequest.toFixed(0)} |`;
}
