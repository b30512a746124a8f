import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectMachine } from '../../scripts/bootstrap.mjs';
import { freePort } from '../../scripts/local-services';
import { alive, commandLine, copyCheckout, processTree } from '../support/checkout-copy';
import { PROJECT_ROOT, waitFor } from '../support/processes';

/** Debian's chromium, as in the console's tests; playwright-core never downloads a browser. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const run = promisify(execFile);

/** What `npm start` printed once everything answered. */
interface Printed {
  api: string;
  console: string;
  operatorKey: string;
  signingSecret: string;
  signCommand: string;
}

function printedValue(output: string, label: string): string {
  const match = new RegExp(`^  ${label} +(\\S+)`, 'm').exec(output);
  if (!match) throw new Error(`npm start printed no "${label}" line`);
  return match[1]!;
}

/** One `npm start` in the copy, in a process group of its own, as a terminal runs it. */
class NpmStart {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private text = '';

  constructor(cwd: string, env: NodeJS.ProcessEnv, args: string[] = []) {
    this.child = spawn('npm', ['start', ...(args.length > 0 ? ['--', ...args] : [])], {
      cwd,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => (this.text += chunk.toString());
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    this.exited = new Promise((done) => this.child.once('exit', (code, signal) => done({ code, signal })));
  }

  output(): string {
    return this.text;
  }

  /** Waits for the block `npm start` prints when everything answers, and reads it. */
  async ready(): Promise<Printed> {
    const state = await waitFor(
      'npm start to print where everything is',
      async () => (this.child.exitCode !== null ? 'exited' : this.text.includes('Read its state') ? 'ready' : undefined),
      180_000,
      250,
    );
    if (state === 'exited') throw new Error(`npm start exited with code ${this.child.exitCode}:\n${this.text.slice(-4000)}`);
    const signCommand = /^ +(npm run sign -- --send .+)$/m.exec(this.text)?.[1];
    if (!signCommand) throw new Error(`npm start printed no sign command:\n${this.text.slice(-4000)}`);
    return {
      api: printedValue(this.text, 'API'),
      console: printedValue(this.text, 'Console'),
      operatorKey: printedValue(this.text, 'Operator key'),
      signingSecret: printedValue(this.text, 'Signing secret'),
      signCommand,
    };
  }

  /** npm, `npm start`'s own process and everything below them, now. */
  pids(): number[] {
    return processTree(this.child.pid!);
  }

  /** What a terminal's Ctrl-C does: SIGINT to the whole foreground process group. */
  interrupt(): void {
    process.kill(-this.child.pid!, 'SIGINT');
  }

  /** Waits for the exit; past the time, kills whatever is left so the next test starts clean. */
  async exit(timeoutMs = 60_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const pids = this.pids();
    const result = await Promise.race([this.exited, sleep(timeoutMs).then(() => undefined)]);
    if (result) return result;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    throw new Error(`npm start did not exit within ${timeoutMs} ms:\n${this.text.slice(-4000)}`);
  }
}

/** Every pid in `pids` has exited; the message lists any left behind. */
async function expectAllExited(pids: number[]): Promise<void> {
  const left = await waitFor(
    'every process of npm start to exit',
    async () => {
      const running = pids.filter(alive);
      return running.length === 0 ? [] : undefined;
    },
    5_000,
    100,
  ).catch(() => pids.filter(alive));
  expect(left.map((pid) => `${pid} ${commandLine(pid)}`)).toEqual([]);
}

/**
 * A newcomer's first ten minutes, on a copy of this checkout without tmp/ and .env: `npm start`,
 * the printed command, the status route and the console with the printed key, Ctrl-C; a restart
 * that keeps the data, `--fresh` that wipes it, a child that dies, a port already taken.
 */
describe('the first ten minutes on a fresh clone', () => {
  let copy: ReturnType<typeof copyCheckout>;
  let env: NodeJS.ProcessEnv;
  let ports: Record<string, string>;
  let first: Printed;
  let firstEventId: string;
  const running: NpmStart[] = [];
  const start = (args: string[] = []) => {
    const started = new NpmStart(copy.dir, env, args);
    running.push(started);
    return started;
  };

  /** Runs the printed sign command as a user would paste it; returns the accepted event's id. */
  const sendPrintedEvent = async (printed: Printed) => {
    const { stdout } = await run('sh', ['-c', printed.signCommand], { cwd: copy.dir, env, timeout: 60_000 });
    expect(stdout).toContain('202 Accepted');
    const reply = JSON.parse(stdout.split('\n').find((line) => line.startsWith('{'))!) as { eventId: string };
    return reply.eventId;
  };
  const eventStatus = async (printed: Printed, eventId: string) => {
    const response = await fetch(`${printed.api}/v1/events/${encodeURIComponent(eventId)}`, {
      headers: { 'x-api-key': printed.operatorKey },
    });
    return { status: response.status, body: (await response.json()) as { status?: string } };
  };
  const waitForRouted = (printed: Printed, eventId: string) =>
    waitFor(
      `event ${eventId} to be ROUTED`,
      async () => {
        const { body } = await eventStatus(printed, eventId);
        return body.status === 'ROUTED' ? body : undefined;
      },
      30_000,
    );

  beforeAll(async () => {
    copy = copyCheckout();
    // npm ci in the copy would empty the node_modules its symlink points at: this checkout's.
    if (inspectMachine(copy.dir).nodeModules !== 'current')
      throw new Error('node_modules is older than package-lock.json: run npm ci (or npm test) first');
    const chosen = new Set<number>();
    ports = {};
    for (const variable of ['HTTP_PORT', 'OFFLINE_LAMBDA_PORT', 'METRICS_PORT', 'REDIS_PORT', 'MONGO_PORT']) {
      let port = await freePort();
      while (chosen.has(port)) port = await freePort();
      chosen.add(port);
      ports[variable] = String(port);
    }
    // A clean shell: none of the gateway's variables (every one is in .env.example), then the
    // ports, and a fast routing simulator so an event is ROUTED in well under a second.
    const gatewayVariables = new Set(
      readFileSync(join(PROJECT_ROOT, '.env.example'), 'utf8')
        .split('\n')
        .flatMap((line) => /^([A-Z][A-Z0-9_]*)=/.exec(line)?.[1] ?? []),
    );
    env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !gatewayVariables.has(name)));
    Object.assign(env, ports, { ROUTING_LATENCY_MS: '200' });
  });

  afterAll(async () => {
    for (const started of running) {
      if (started.child.exitCode === null && started.child.signalCode === null) {
        started.interrupt();
        await started.exit().catch(() => undefined);
      }
    }
    copy?.remove();
  });

  it("starts on a fresh clone, routes the printed command's event, shows it in the console, and stops on Ctrl-C with nothing left behind", async () => {
    const gateway = start();
    first = await gateway.ready();
    expect(first.api).toBe(`http://localhost:${ports.HTTP_PORT}`);
    expect(first.console).toBe(`${first.api}/ops`);
    expect(first.signCommand).toBe(`npm run sign -- --send --secret ${first.signingSecret} --url ${first.api}/v1/events`);
    const dotEnv = readFileSync(join(copy.dir, '.env'), 'utf8');
    expect(dotEnv).toContain(`OPS_API_KEYS=${first.operatorKey}\n`);
    expect(dotEnv).toContain(`WEBHOOK_SECRETS=${first.signingSecret}\n`);

    // One stream, each line prefixed with its process; the emulator's box reduced to its routes.
    const output = gateway.output();
    expect(output).toMatch(/^ferretdb \| ferretdb: listening on/m);
    expect(output).toMatch(new RegExp(`^api +\\| POST http://localhost:${ports.HTTP_PORT}/v1/events$`, 'm'));
    expect(output).toMatch(/^worker +\| INFO worker started /m);
    expect(output).not.toMatch(/[│┌└]|\/invocations/);

    firstEventId = await sendPrintedEvent(first);
    await waitForRouted(first, firstEventId);

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
    try {
      const page = await browser.newPage();
      page.setDefaultTimeout(30_000);
      await page.goto(first.console);
      await page.fill('#operator-key', first.operatorKey);
      await page.click('#sign-in-form button[type="submit"]');
      await page.waitForSelector('#overview', { state: 'visible' });
      await page.click('#nav button[data-view="event"]');
      await page.fill('#event-id', firstEventId);
      await page.click('#event-lookup button[type="submit"]');
      await page.waitForSelector('#event-view');
      expect(await page.locator('#event-view h3').first().textContent()).toBe(firstEventId);
      expect(await page.locator('#event-view [data-fact="Status"]').textContent()).toBe('ROUTED');
    } finally {
      await browser.close();
    }

    const pids = gateway.pids();
    const commands = pids.map(commandLine).join('\n');
    for (const expected of ['redis-server', 'tools/ferretdb/bin/ferretdb', 'serverless offline start', 'lib/worker/main.ts']) {
      expect(commands).toContain(expected);
    }
    gateway.interrupt();
    expect(await gateway.exit()).toEqual({ code: 0, signal: null });
    await expectAllExited(pids);
    expect(gateway.output()).toMatch(/^worker +\| INFO draining /m);
    expect(gateway.output()).toMatch(/^worker +\| INFO worker stopped drained=true$/m);
    expect(gateway.output()).toMatch(/^start +\| stopped$/m);
  }, 300_000);

  it('keeps the data and shows the same key and secret on the next start, and stops on SIGTERM too', async () => {
    const gateway = start();
    const printed = await gateway.ready();
    expect(printed).toEqual(first);
    expect(gateway.output()).toContain(`${first.operatorKey}   (OPS_API_KEYS in .env)`);
    expect((await eventStatus(printed, firstEventId)).body.status).toBe('ROUTED');

    const pids = gateway.pids();
    // What `kill <pid>` or a process manager sends to npm, which passes it on.
    process.kill(gateway.child.pid!, 'SIGTERM');
    expect(await gateway.exit()).toEqual({ code: 0, signal: null });
    await expectAllExited(pids);
    expect(gateway.output()).toMatch(/^worker +\| INFO worker stopped drained=true$/m);
  }, 300_000);

  it('starts empty with --fresh, and when a process dies stops the others, says which died and why, and exits non-zero', async () => {
    const gateway = start(['--fresh']);
    const printed = await gateway.ready();
    expect(gateway.output()).toMatch(/^start +\| --fresh: wiped tmp\/redis and tmp\/ferretdb$/m);
    expect(printed).toEqual(first);
    expect((await eventStatus(printed, firstEventId)).status).toBe(404);
    await waitForRouted(printed, await sendPrintedEvent(printed));

    const pids = gateway.pids();
    const ferretdb = pids.find((pid) => commandLine(pid).includes('tools/ferretdb/bin/ferretdb'))!;
    process.kill(ferretdb, 'SIGKILL');
    expect((await gateway.exit()).code).toBe(1);
    await expectAllExited(pids);
    const output = gateway.output();
    expect(output).toMatch(/^start +\| ferretdb was killed by SIGKILL/m);
    expect(output).toMatch(/^start +\| stopping the others because ferretdb died$/m);
    expect(output).toMatch(/^worker +\| INFO worker stopped /m);
  }, 300_000);

  it('refuses to start when a port is taken, naming the port and the variable that moves it, and starts nothing', async () => {
    const port = Number(ports.METRICS_PORT);
    const taken = createServer();
    await new Promise<void>((done) => taken.listen(port, '127.0.0.1', done));
    try {
      const gateway = start();
      expect((await gateway.exit(30_000)).code).toBe(1);
      const output = gateway.output();
      expect(output).toContain(`npm start: port ${port} is in use (wanted by the worker's metrics and health)`);
      expect(output).toContain(`METRICS_PORT=${port + 100} npm start`);
      expect(output).not.toMatch(/^(redis|ferretdb|api|worker) +\|/m);
    } finally {
      await new Promise((done) => taken.close(done));
    }
  }, 60_000);
});
