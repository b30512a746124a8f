/**
 * Starts the real services the gateway needs on this machine, without Docker: Debian's
 * redis-server and FerretDB (a MongoDB wire-protocol server) with its SQLite backend, each on
 * a free loopback port and in a throw-away data directory. Used by the test suite and by
 * `npm run services`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const FERRETDB_BIN = resolve(__dirname, '..', 'tools', 'ferretdb', 'bin', 'ferretdb');

export interface RunningService {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, name: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode} before listening`);
    const open = await new Promise<boolean>((done) => {
      const socket = new Socket();
      socket.once('connect', () => (socket.destroy(), done(true)));
      socket.once('error', () => (socket.destroy(), done(false)));
      socket.connect(port, '127.0.0.1');
    });
    if (open) return;
    await sleep(100);
  }
  throw new Error(`${name} did not listen on port ${port} within ${timeoutMs} ms`);
}

function stopper(child: ChildProcess, dir?: string) {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
}

function which(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** What to do when a service binary is missing, in one line each. */
export const INSTALL_HINTS = {
  redis: 'redis-server not found: install it (Debian/Ubuntu: `apt-get install -y redis-server`) or set REDIS_URL',
  ferretdb:
    'FerretDB not built: run `npm run build:tools` (needs Go) or set MONGO_URL to a running MongoDB',
} as const;

export interface ServiceOptions {
  port?: number;
  /** Keep data here instead of a temporary directory (deleted on stop). */
  dataDir?: string;
  quiet?: boolean;
}

/** redis-server with AOF persistence and `noeviction`, as production runs it. */
export async function startRedis(options: ServiceOptions = {}): Promise<RunningService> {
  if (!which('redis-server')) throw new Error(INSTALL_HINTS.redis);
  const port = options.port ?? (await freePort());
  const dir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'gateway-redis-'));
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes',
      '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction', '--daemonize', 'no'],
    { stdio: options.quiet === false ? 'inherit' : 'ignore' },
  );
  await waitForPort(port, child, 'redis-server');
  return { url: `redis://127.0.0.1:${port}`, port, process: child, stop: stopper(child, options.dataDir ? undefined : dir) };
}

/** FerretDB 1.24 on SQLite: the Mongo wire protocol where mongod cannot be installed. */
export async function startFerretDb(options: ServiceOptions = {}): Promise<RunningService> {
  if (!existsSync(FERRETDB_BIN)) throw new Error(INSTALL_HINTS.ferretdb);
  const port = options.port ?? (await freePort());
  const dir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'gateway-ferretdb-'));
  const child = spawn(FERRETDB_BIN, ['-listen-addr', `127.0.0.1:${port}`, '-sqlite-dir', dir, '-log-level', 'error'], {
    stdio: options.quiet === false ? 'inherit' : 'ignore',
  });
  await waitForPort(port, child, 'ferretdb');
  return { url: `mongodb://127.0.0.1:${port}/gateway`, port, process: child, stop: stopper(child, options.dataDir ? undefined : dir) };
}
