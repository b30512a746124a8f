import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { freePort } from '../../scripts/local-services';
import { waitFor } from './processes';

/** The fault proxy `npm run build:tools` builds from the Go module pinned in tools/toxiproxy. */
export const TOXIPROXY_BIN = resolve(__dirname, '..', '..', 'tools', 'toxiproxy', 'bin', 'toxiproxy');

/** `downstream`: server to client (the default); `upstream`: client to server. */
export type ToxicStream = 'upstream' | 'downstream';

/** The toxics the tests use, with their attributes as Toxiproxy's README documents them. */
export type ToxicSpec =
  /** Delays every chunk by `latency` ms (+/- `jitter`). */
  | { type: 'latency'; attributes: { latency: number; jitter?: number } }
  /** Caps the link at `rate` KB/s. */
  | { type: 'bandwidth'; attributes: { rate: number } }
  /** Resets the connection (TCP RST) `timeout` ms after its first data on this stream, 0 at once. */
  | { type: 'reset_peer'; attributes: { timeout: number } }
  /** Drops every byte; closes the connection after `timeout` ms, never when 0 (a blackhole). Removing it closes the connection. */
  | { type: 'timeout'; attributes: { timeout: number } };

export type Toxic = ToxicSpec & {
  /** Defaults to `<type>_<stream>`. */
  name?: string;
  stream?: ToxicStream;
  /** Share of connections it applies to, 0..1 (default 1). */
  toxicity?: number;
};

/** One proxy: clients connect to `host:port`, Toxiproxy forwards to the upstream. */
export interface Proxy {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** Adds a toxic; resolves to its name (what {@link Proxy.removeToxic} takes). */
  addToxic(toxic: Toxic): Promise<string>;
  removeToxic(name: string): Promise<void>;
  /** Removes every toxic of this proxy. */
  clearToxics(): Promise<void>;
  /** `false` closes every connection and stops listening (connection refused); `true` listens again. */
  setEnabled(enabled: boolean): Promise<void>;
  /** What Toxiproxy says of this proxy now: where it listens, whether it is enabled, its toxics. */
  state(): Promise<ProxyJson>;
}

export interface ToxiproxyServer {
  /** The HTTP API, e.g. `http://127.0.0.1:40123`. */
  readonly apiUrl: string;
  /** A proxy listening on a free loopback port, forwarding to `upstream` (`host:port`). */
  createProxy(name: string, upstream: string): Promise<Proxy>;
  /** Enables every proxy and removes every toxic. */
  reset(): Promise<void>;
  /** Stops the server (every proxied connection closes). Safe to call twice. */
  stop(): Promise<void>;
  /** The last few kilobytes Toxiproxy logged (warnings and errors, such as an upstream it could not reach). */
  output(): string;
}

export interface ProxyJson {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
  toxics: Array<{ name: string }>;
}

/** `host:port` of a Redis or Mongo URL: the upstream a proxy in front of that server forwards to. */
export function hostPort(url: string): string {
  const { hostname, port } = new URL(url);
  return `${hostname}:${port}`;
}

/** A Redis or Mongo URL with its host and port replaced by the proxy's: the same server and database, reached through the proxy. */
export function throughProxy(url: string, proxy: Pick<Proxy, 'host' | 'port'>): string {
  const { protocol, pathname } = new URL(url);
  return `${protocol}//${proxy.host}:${proxy.port}${pathname}`;
}

/**
 * Starts the Toxiproxy server on a free API port and returns a small typed client of its HTTP
 * API. Proxies listen on port 0, so Toxiproxy picks a free port and reports it.
 *
 * @example
 * const toxiproxy = await startToxiproxy();
 * const redis = await toxiproxy.createProxy('worker-redis', '127.0.0.1:6379');
 * const name = await redis.addToxic({ type: 'latency', attributes: { latency: 500 } });
 * await redis.removeToxic(name);
 * await toxiproxy.stop();
 */
export async function startToxiproxy(): Promise<ToxiproxyServer> {
  if (!existsSync(TOXIPROXY_BIN)) throw new Error('Toxiproxy not built: run `npm run build:tools` (needs Go)');
  const port = await freePort();
  const child = spawn(TOXIPROXY_BIN, ['-host', '127.0.0.1', '-port', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'warn' },
  });
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-5000);
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const apiUrl = `http://127.0.0.1:${port}`;

  async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${apiUrl}${path}`, {
      method,
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`toxiproxy ${method} ${path}: ${response.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((done) => setTimeout(done, 5000))]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    })();
    return stopping;
  };

  try {
    await waitFor(
      'toxiproxy to answer /version',
      async () => {
        if (child.exitCode !== null) throw new Error(`toxiproxy exited with code ${child.exitCode}: ${output}`);
        const response = await fetch(`${apiUrl}/version`, { signal: AbortSignal.timeout(2000) });
        return response.ok ? true : undefined;
      },
      20_000,
      100,
    );
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    apiUrl,
    async createProxy(name, upstream) {
      const created = await api<ProxyJson>('POST', '/proxies', { name, listen: '127.0.0.1:0', upstream, enabled: true });
      const at = created.listen.lastIndexOf(':');
      const host = created.listen.slice(0, at);
      const listenPort = Number(created.listen.slice(at + 1));
      const path = `/proxies/${encodeURIComponent(name)}`;
      return {
        name,
        host,
        port: listenPort,
        async addToxic(toxic) {
          const added = await api<{ name: string }>('POST', `${path}/toxics`, { stream: 'downstream', toxicity: 1, ...toxic });
          return added.name;
        },
        async removeToxic(toxicName) {
          await api('DELETE', `${path}/toxics/${encodeURIComponent(toxicName)}`);
        },
        async clearToxics() {
          const { toxics } = await api<ProxyJson>('GET', path);
          for (const toxic of toxics) await api('DELETE', `${path}/toxics/${encodeURIComponent(toxic.name)}`);
        },
        async setEnabled(enabled) {
          // Re-enabling listens on the port the proxy reported, not on a new port 0.
          await api('POST', path, { enabled, listen: `${host}:${listenPort}` });
        },
        state: () => api<ProxyJson>('GET', path),
      };
    },
    async reset() {
      await api('POST', '/reset');
    },
    stop,
    output: () => output,
  };
}
