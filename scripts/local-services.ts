/**
 * Starts the real services the gateway needs on this machine, without Docker: Debian's
 * redis-server (alone, or three as a Redis Cluster) and FerretDB (a MongoDB wire-protocol
 * server) with its SQLite backend, each on a free loopback port and in a throw-away data
 * directory. Used by the test suite and by `npm run services`.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

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
  redisCli: 'redis-cli not found: install it (Debian/Ubuntu: `apt-get install -y redis-tools`)',
  ferretdb: 'FerretDB not built: run `npm run build:tools` (needs Go) or set MONGO_URL to a running MongoDB',
} as const;

export interface ServiceOptions {
  port?: number;
  /** Keep data here instead of a temporary directory (deleted on stop). */
  dataDir?: string;
  quiet?: boolean;
}

export interface RedisOptions extends ServiceOptions {
  /** When the AOF is fsynced: `everysec` (default, as production runs) or `always` (before every reply). */
  appendfsync?: 'everysec' | 'always';
}

/** How production runs Redis: AOF persistence and `noeviction` (BullMQ's keys must never be evicted). */
export function redisServerArgs(port: number, dir: string, appendfsync: RedisOptions['appendfsync'] = 'everysec'): string[] {
  return [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'yes',
    '--appendfsync',
    appendfsync,
    '--maxmemory-policy',
    'noeviction',
    '--daemonize',
    'no',
  ];
}

/** redis-server with AOF persistence and `noeviction`, as production runs it. */
export async function startRedis(options: RedisOptions = {}): Promise<RunningService> {
  if (!which('redis-server')) throw new Error(INSTALL_HINTS.redis);
  const port = options.port ?? (await freePort());
  const dir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'gateway-redis-'));
  const child = spawn('redis-server', redisServerArgs(port, dir, options.appendfsync), {
    stdio: options.quiet === false ? 'inherit' : 'ignore',
  });
  await waitForPort(port, child, 'redis-server');
  return { url: `redis://127.0.0.1:${port}`, port, process: child, stop: stopper(child, options.dataDir ? undefined : dir) };
}

export interface RunningCluster {
  /** The first node's URL: a cluster client seeded with it discovers the others. */
  url: string;
  nodes: RunningService[];
  stop(): Promise<void>;
}

const run = promisify(execFile);

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.unref();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

/** A free port whose cluster bus port (port + 10000, where nodes talk to each other) is free too. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const port = await freePort();
    const bus = port + 10_000;
    if (bus < 65_536 && !taken.has(port) && !taken.has(bus) && (await portIsFree(bus))) {
      taken.add(port).add(bus);
      return port;
    }
  }
  throw new Error('found no free port whose cluster bus port (port + 10000) is free too');
}

/**
 * A real Redis Cluster of three primaries (no replicas), each a redis-server configured as
 * {@link startRedis} configures one, in a throw-away directory: what ElastiCache cluster mode
 * is to the gateway. Resolves once every node reports `cluster_state:ok`.
 */
export async function startRedisCluster(options: { quiet?: boolean } = {}): Promise<RunningCluster> {
  if (!which('redis-server')) throw new Error(INSTALL_HINTS.redis);
  if (!which('redis-cli')) throw new Error(INSTALL_HINTS.redisCli);
  const taken = new Set<number>();
  const nodes: RunningService[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  try {
    for (let i = 0; i < 3; i++) {
      const port = await freeClusterPort(taken);
      const dir = mkdtempSync(join(tmpdir(), 'gateway-redis-cluster-'));
      const child = spawn(
        'redis-server',
        [
          ...redisServerArgs(port, dir),
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          '5000',
        ],
        { stdio: options.quiet === false ? 'inherit' : 'ignore' },
      );
      nodes.push({ url: `redis://127.0.0.1:${port}`, port, process: child, stop: stopper(child, dir) });
      await waitForPort(port, child, 'redis-server (cluster node)');
    }
    const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
    for (const node of nodes) await waitForClusterOk(node.port);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: nodes[0]!.url, nodes, stop };
}

/** Slots are assigned at once, but each node says `ok` only when it has heard from the others. */
async function waitForClusterOk(port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let info = '';
  while (Date.now() < deadline) {
    info = (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'cluster', 'info']).catch(() => ({ stdout: '' }))).stdout;
    if (info.includes('cluster_state:ok')) return;
    await sleep(100);
  }
  throw new Error(`cluster node 127.0.0.1:${port} not ok within ${timeoutMs} ms: ${info.split('\n')[0] ?? ''}`);
}

/** FerretDB's arguments: loopback only, SQLite files in `dir`, errors only in its log. */
export function ferretDbArgs(port: number, dir: string): string[] {
  return ['-listen-addr', `127.0.0.1:${port}`, '-sqlite-dir', dir, '-log-level', 'error'];
}

/** FerretDB 1.24 on SQLite: the Mongo wire protocol where mongod cannot be installed. */
export async function startFerretDb(options: ServiceOptions = {}): Promise<RunningService> {
  if (!existsSync(FERRETDB_BIN)) throw new Error(INSTALL_HINTS.ferretdb);
  const port = options.port ?? (await freePort());
  const dir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'gateway-ferretdb-'));
  const child = spawn(FERRETDB_BIN, ferretDbArgs(port, dir), {
    stdio: options.quiet === false ? 'inherit' : 'ignore',
  });
  await waitForPort(port, child, 'ferretdb');
  return { url: `mongodb://127.0.0.1:${port}/gateway`, port, process: child, stop: stopper(child, options.dataDir ? undefined : dir) };
}
