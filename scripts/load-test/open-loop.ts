import { Agent, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

/** One request of an open-loop run, built when it is due (so its signature is fresh). */
export interface OpenLoopRequest {
  body: string;
  headers: Record<string, string>;
  /** Called with the reply; not called on a connection error or timeout. */
  onReply?: (status: number, body: string) => void;
}

export interface OpenLoopOptions {
  /** The endpoint to POST to. */
  url: string;
  /** Requests per second, evenly spaced. */
  rate: number;
  /** How many requests to send. */
  total: number;
  /** At most this many connections (requests in flight); a request due while all are busy waits for one. */
  connections: number;
  next(): OpenLoopRequest;
  /** A request unanswered after this long counts as a timeout (default 10 s). */
  timeoutMs?: number;
}

export interface OpenLoopResult {
  /** Each answered request's latency in ms, from the moment it was due to its last reply byte, sorted. */
  latenciesMs: number[];
  statusCodes: Record<string, number>;
  errors: number;
  timeouts: number;
  /** Requests that found every connection busy when they were due (their wait is in their latency). */
  waitedForConnection: number;
  /** How late the scheduler itself started a request at worst (ms), e.g. on a busy event loop. */
  maxDispatchLagMs: number;
  seconds: number;
}

/**
 * Sends `total` POSTs at a fixed `rate`, each when it is due whatever the earlier ones are doing
 * (an open loop, as producers' webhooks arrive), and measures each from its due time. A request
 * that had to wait for the client (a busy connection, a late timer) is charged that wait, so
 * slow replies cannot hide the requests they held back (coordinated omission), and no latency
 * is synthesised. autocannon's `overallRate` is not used for this: it sends each connection's
 * share of a second back to back from a per-connection tick (bursts, not a steady rate), and
 * its correction assumes a 1 ms interval between requests (autocannon 8, `lib/run.js`).
 */
export async function runOpenLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const target = new URL(options.url);
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
  const timeoutMs = options.timeoutMs ?? 10_000;
  const interval = 1000 / options.rate;
  const latencies: number[] = [];
  const statusCodes: Record<string, number> = {};
  let errors = 0;
  let timeouts = 0;
  let inFlight = 0;
  let waitedForConnection = 0;
  let maxDispatchLagMs = 0;
  const replies: Array<Promise<void>> = [];

  const send = (due: number): Promise<void> => {
    const { body, headers, onReply } = options.next();
    if (inFlight >= options.connections) waitedForConnection++;
    inFlight++;
    return new Promise<void>((done) => {
      let settled = false;
      const finish = () => {
        if (settled) return;
        settled = true;
        inFlight--;
        done();
      };
      const req = request(target, { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          latencies.push(performance.now() - due);
          statusCodes[res.statusCode ?? 0] = (statusCodes[res.statusCode ?? 0] ?? 0) + 1;
          onReply?.(res.statusCode ?? 0, Buffer.concat(chunks).toString());
          finish();
        });
      });
      req.setTimeout(timeoutMs, () => {
        timeouts++;
        req.destroy(new Error('timeout'));
      });
      req.on('error', (error) => {
        if (error.message !== 'timeout') errors++;
        finish();
      });
      req.end(body);
    });
  };

  const started = performance.now();
  for (let i = 0; i < options.total;) {
    const now = performance.now();
    // Everything due by now goes out now, each measured from its own due time.
    for (; i < options.total && started + i * interval <= now; i++) {
      const due = started + i * interval;
      maxDispatchLagMs = Math.max(maxDispatchLagMs, now - due);
      replies.push(send(due));
    }
    if (i < options.total) await sleep(Math.max(0, started + i * interval - performance.now()));
  }
  await Promise.all(replies);
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return { latenciesMs: latencies.sort((a, b) => a - b), statusCodes, errors, timeouts, waitedForConnection, maxDispatchLagMs, seconds };
}

/** The `q` quantile (0..1) of sorted values, nearest rank. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
