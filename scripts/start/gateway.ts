/**
 * `npm start` once the machine is ready (scripts/start.mjs runs the bootstrap first): Redis and
 * FerretDB with their data under tmp/, then the emulator and the worker, as one supervised
 * process tree with one log stream. Prints where everything is once it all answers; a signal
 * stops it all (the worker drains), and any process dying stops the rest.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FERRETDB_BIN, ferretDbArgs, redisServerArgs } from '../local-services';
import { ensureDevSecrets, SecretOrigin, type DevSecret } from './dev-secrets';
import { LogStream } from './log-lines';
import { portProblems } from './ports';
import { describeExit, ProcessTree, type SupervisedChild } from './process-tree';
import { portClaims, readStartSettings, type StartSettings, type StoreSetting } from './settings';

export interface GatewayOptions {
  root: string;
  /** `npm start -- --fresh`: the local stores' data is wiped first. */
  fresh: boolean;
  /** The shell's environment; it wins over .env. */
  shell: NodeJS.ProcessEnv;
  envFile: string;
  /** What .env held when the start began. */
  fileValues: Record<string, string>;
}

const SELF = 'start';
const DATA_DIRS = { redis: 'tmp/redis', ferretdb: 'tmp/ferretdb' } as const;
/** The first start bundles every function; a cold, busy machine needs a while. */
const READY_TIMEOUT_MS = 180_000;
const STORE_TIMEOUT_MS = 30_000;
/** npm passes a terminal's Ctrl-C on as a second SIGINT; only a signal after this means "now". */
const REPEAT_SIGNAL_MS = 1000;

/** The start stopped before it was ready; the reason is already in the log. */
class StartAborted extends Error {
  override name = 'StartAborted';
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** A URL as it may be printed: a password in it is masked. */
function printable(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = new Socket();
    socket.once('connect', () => (socket.destroy(), done(true)));
    socket.once('error', () => (socket.destroy(), done(false)));
    socket.connect(port, '127.0.0.1');
  });
}

async function answersOk(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

function secretNote(secret: DevSecret): string {
  if (secret.origin === SecretOrigin.GENERATED) return `(${secret.variable}, generated now and kept in .env)`;
  return secret.origin === SecretOrigin.ENV_FILE ? `(${secret.variable} in .env)` : `(${secret.variable} from the environment)`;
}

/**
 * Runs the gateway until a signal or a process's death; resolves with the exit code (0: stopped
 * on request, cleanly).
 */
export async function runGateway(options: GatewayOptions): Promise<number> {
  const { root } = options;
  const env: NodeJS.ProcessEnv = { ...options.fileValues, ...options.shell };
  const log = new LogStream([SELF, 'redis', 'ferretdb', 'api', 'worker'], process.stdout, Boolean(process.stdout.isTTY) && !env.NO_COLOR);
  const say = (text: string) => log.line(SELF, text);

  let settings: StartSettings;
  try {
    settings = readStartSettings(env);
  } catch (error) {
    console.error(`npm start: ${errorText(error)}`);
    return 1;
  }
  const problems = await portProblems(portClaims(settings));
  if (problems.length > 0) {
    for (const problem of problems) console.error(`npm start: ${problem}`);
    return 1;
  }

  const secrets = ensureDevSecrets(options.envFile, options.shell, options.fileValues);
  for (const secret of secrets) env[secret.variable] = secret.list;
  if (options.fresh) {
    const local = (['redis', 'ferretdb'] as const).filter((store) => 'port' in (store === 'redis' ? settings.redis : settings.mongo));
    for (const store of local) rmSync(join(root, DATA_DIRS[store]), { recursive: true, force: true });
    const wiped = local.map((store) => DATA_DIRS[store]).join(' and ');
    say(`--fresh: ${wiped ? `wiped ${wiped}` : 'nothing local to wipe (REDIS_URL and MONGO_URL are set)'}`);
  }

  let finish: (code: number) => void = () => undefined;
  const finished = new Promise<number>((done) => (finish = done));
  let stopping = false;
  const tree = new ProcessTree(log, (child, exit) => {
    const lines = child.lastLines();
    say(`${child.name} ${describeExit(exit)}${lines.length > 0 ? '; its last lines:' : ''}`);
    for (const line of lines) say(`  ${line}`);
    stop(`stopping the others because ${child.name} died`, 1);
  });
  const stop = (reason: string, code: number) => {
    if (stopping) return;
    stopping = true;
    say(reason);
    // The worker drains and the API closes while the stores still answer; then the stores stop.
    void tree
      .stop([
        ['api', 'worker'],
        ['redis', 'ferretdb'],
      ])
      .then((clean) => {
        const exitCode = code !== 0 ? code : clean ? 0 : 1;
        say(exitCode === 0 ? 'stopped' : `stopped (exit code ${exitCode})`);
        finish(exitCode);
      });
  };

  let firstSignalAt = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (!stopping) {
      firstSignalAt = Date.now();
      stop(
        `${signal}: stopping (the worker drains its events first, up to ${settings.drainTimeoutMs / 1000} s; ${signal} again stops at once)`,
        0,
      );
    } else if (Date.now() - firstSignalAt >= REPEAT_SIGNAL_MS) {
      say(`${signal} again: killing every process now`);
      tree.kill();
      finish(1);
    }
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);

  /** Polls `check` until true; gives up when `child` died (already reported), a stop began, or time ran out. */
  const waitUntil = async (what: string, children: SupervisedChild[], check: () => Promise<boolean> | boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (stopping || children.some((child) => !child.running)) throw new StartAborted(what);
      if (Date.now() > deadline) throw new Error(`${what} did not answer within ${timeoutMs / 1000} s`);
      await sleep(200);
    }
  };

  const startStore = async (name: 'redis' | 'ferretdb', setting: StoreSetting) => {
    if ('url' in setting) return setting.url;
    const dir = join(root, DATA_DIRS[name]);
    mkdirSync(dir, { recursive: true });
    const child = tree.start({
      name,
      // Warnings only: the stream stays readable, and what Redis warns about still shows.
      ...(name === 'redis'
        ? { command: 'redis-server', args: [...redisServerArgs(setting.port, dir), '--loglevel', 'warning'] }
        : { command: FERRETDB_BIN, args: ferretDbArgs(setting.port, dir) }),
      cwd: root,
      env,
      stopTimeoutMs: 10_000,
    });
    await waitUntil(`${name} on port ${setting.port}`, [child], () => portOpen(setting.port), STORE_TIMEOUT_MS);
    return name === 'redis' ? `redis://127.0.0.1:${setting.port}` : `mongodb://127.0.0.1:${setting.port}/gateway`;
  };

  try {
    const [redisUrl, mongoUrl] = await Promise.all([startStore('redis', settings.redis), startStore('ferretdb', settings.mongo)]);
    const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    const appEnv: NodeJS.ProcessEnv = {
      ...env,
      REDIS_URL: redisUrl,
      MONGO_URL: mongoUrl,
      // CloudWatch's metric lines (EMF) are for ECS; locally they would fill the stream every minute.
      WORKER_CLOUD_METRICS_MS: env.WORKER_CLOUD_METRICS_MS ?? '0',
      PATH: `${join(root, 'node_modules', '.bin')}${delimiter}${env.PATH ?? ''}`,
    };
    // The npm scripts' own commands (`npm run offline`, `npm run worker`), run as npm runs them,
    // without npm in between: each `exec`s, so the signal reaches the program itself.
    const app = (name: 'api' | 'worker', script: 'offline' | 'worker', stopTimeoutMs: number) =>
      tree.start({ name, command: 'sh', args: ['-c', scripts[script]!], cwd: root, env: appEnv, stopTimeoutMs });
    const api = app('api', 'offline', 10_000);
    const worker = app('worker', 'worker', settings.drainTimeoutMs + 10_000);
    const apiUrl = `http://localhost:${settings.httpPort}`;
    await Promise.all([
      waitUntil('the API (GET /ready)', [api], () => answersOk(`${apiUrl}/ready`), READY_TIMEOUT_MS),
      settings.metricsPort > 0
        ? waitUntil(
            'the worker (GET /health)',
            [worker],
            () => answersOk(`http://127.0.0.1:${settings.metricsPort}/health`),
            READY_TIMEOUT_MS,
          )
        : waitUntil('the worker', [worker], () => worker.lastLines().some((line) => line.includes('worker started')), READY_TIMEOUT_MS),
    ]);
    printReady({ settings, apiUrl, redisUrl, mongoUrl, secrets, log });
  } catch (error) {
    if (!(error instanceof StartAborted)) {
      say(`could not start: ${errorText(error)}`);
      stop('stopping what did start', 1);
    }
  }
  const code = await finished;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(signal, onSignal);
  return code;
}

interface ReadyFacts {
  settings: StartSettings;
  apiUrl: string;
  redisUrl: string;
  mongoUrl: string;
  secrets: DevSecret[];
  log: LogStream;
}

/** Where everything is, without prefixes, so each command can be copied as it is. */
function printReady({ settings, apiUrl, redisUrl, mongoUrl, secrets, log }: ReadyFacts): void {
  const [opsKey, signing] = secrets as [DevSecret, DevSecret];
  const store = (setting: StoreSetting, url: string, variable: string, local: string) =>
    'url' in setting ? `${printable(url)}   (from ${variable})` : `${url}   (${local})`;
  const rows: [string, string][] = [
    ['API', apiUrl],
    ['Console', `${apiUrl}/ops`],
    ['Operator key', `${opsKey.value}   ${secretNote(opsKey)}`],
    ['Signing secret', `${signing.value}   ${secretNote(signing)}`],
    ['Redis', store(settings.redis, redisUrl, 'REDIS_URL', `data in ${DATA_DIRS.redis}`)],
    ['MongoDB', store(settings.mongo, mongoUrl, 'MONGO_URL', `FerretDB, data in ${DATA_DIRS.ferretdb}`)],
    ...(settings.metricsPort > 0 ? ([['Worker metrics', `http://localhost:${settings.metricsPort}/metrics`]] as [string, string][]) : []),
  ];
  log.block([
    '',
    `  The gateway is running (ready in ${process.uptime().toFixed(1)} s). Ctrl-C stops it.`,
    '',
    ...rows.map(([label, value]) => `  ${label.padEnd(16)}${value}`),
    '',
    '  Send a signed sample event:',
    `    npm run sign -- --send --secret ${shellQuote(signing.value)} --url ${apiUrl}/v1/events`,
    '  Read its state (its eventId is in the reply):',
    `    curl -H ${shellQuote(`x-api-key: ${opsKey.value}`)} ${apiUrl}/v1/events/<eventId>`,
    '',
  ]);
}
