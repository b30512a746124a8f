import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import { quantile, runOpenLoop } from './open-loop';

/** What the load generator sends next: an event id and its body. */
export type NextEvent = () => { eventId: string; body: string };

export interface DoorLoadOptions {
  /** The endpoint to POST to. */
  url: string;
  connections: number;
  /** Requests to send, unless `duration` is given. */
  requests: number;
  /** Seconds to load for, instead of a request count. */
  duration?: number;
  /** Open loop at this many requests/s; 0 for a closed loop. */
  rate: number;
  next: NextEvent;
  sign(body: string): Record<string, string>;
  onReply(eventId: string, status: number, body: string): void;
}

/** The door's side of a run, whichever loop produced it. */
export interface DoorFigures {
  /** How the latencies were measured, in a sentence for the report. */
  method: string;
  latency: { p50: number; p90: number; p99: number; p99_9: number; max: number; mean: number };
  requestsPerSecond: number;
  total: number;
  codes: Record<string, number>;
  /** Replies other than 2xx, plus errors and timeouts. */
  non2xx: number;
  errors: number;
  timeouts: number;
}

/** Loads the door in a closed loop (autocannon) or an open one (`runOpenLoop`), as `rate` says. */
export function loadDoor(options: DoorLoadOptions): Promise<DoorFigures> {
  return options.rate > 0 ? openLoop(options) : closedLoop(options);
}

/**
 * Each connection sends its next request when the previous reply arrives. autocannon records
 * each latency as measured: without a rate it applies no coordinated-omission correction, and a
 * closed loop has no schedule to correct against.
 */
async function closedLoop(options: DoorLoadOptions): Promise<DoorFigures> {
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    ...(options.duration ? { duration: options.duration } : { amount: options.requests }),
    requests: [
      {
        method: 'POST',
        setupRequest: (request, context) => {
          const { eventId, body } = options.next();
          (context as Record<string, unknown>).eventId = eventId;
          return { ...request, body, headers: options.sign(body) };
        },
        onResponse: (status, body, context) => options.onReply(String((context as Record<string, unknown>).eventId), status, body),
      },
    ],
  });
  const l = result.latency as autocannon.Histogram & { p99_9?: number };
  return {
    method: `closed loop (autocannon): ${options.connections} connections, each sending its next request when the previous reply arrives; each latency is from sending to the reply, as autocannon measured it (no rate, so no correction applied).`,
    latency: { p50: l.p50, p90: l.p90, p99: l.p99, p99_9: l.p99_9 ?? Number.NaN, max: l.max, mean: l.average },
    requestsPerSecond: result.requests.average,
    total: result.requests.total,
    codes: Object.fromEntries(
      Object.entries(result.statusCodeStats ?? {}).map(([code, stat]) => [code, (stat as { count: number }).count]),
    ),
    non2xx: result.non2xx + result.errors + result.timeouts,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

/** Requests at a fixed rate whatever the replies, each latency measured from when it was due. */
async function openLoop(options: DoorLoadOptions): Promise<DoorFigures> {
  const total = options.duration ? Math.round(options.duration * options.rate) : options.requests;
  const run = await runOpenLoop({
    url: options.url,
    rate: options.rate,
    total,
    connections: options.connections,
    next: () => {
      const { eventId, body } = options.next();
      return { body, headers: options.sign(body), onReply: (status, reply) => options.onReply(eventId, status, reply) };
    },
  });
  const l = run.latenciesMs;
  const round = (ms: number) => Math.round(ms * 10) / 10;
  const non2xx = Object.entries(run.statusCodes)
    .filter(([code]) => !code.startsWith('2'))
    .reduce((sum, [, n]) => sum + n, 0);
  return {
    method:
      `open loop at ${options.rate} requests/s: one request due every ${(1000 / options.rate).toFixed(2)} ms whatever the replies, on up to ${options.connections} connections; ` +
      `each latency is from the moment the request was due to its last reply byte, so time spent waiting for a connection or a late timer counts and nothing is synthesised ` +
      `(${run.waitedForConnection} of ${total} requests found every connection busy; the scheduler started a request at most ${run.maxDispatchLagMs.toFixed(1)} ms late). ` +
      `autocannon's \`overallRate\` is not used: it sends in bursts and its correction assumes a 1 ms interval.`,
    latency: {
      p50: round(quantile(l, 0.5)),
      p90: round(quantile(l, 0.9)),
      p99: round(quantile(l, 0.99)),
      p99_9: round(quantile(l, 0.999)),
      max: round(l.at(-1) ?? Number.NaN),
      mean: round(l.reduce((sum, ms) => sum + ms, 0) / Math.max(1, l.length)),
    },
    requestsPerSecond: total / run.seconds,
    total,
    codes: run.statusCodes,
    non2xx: non2xx + run.errors + run.timeouts,
    errors: run.errors,
    timeouts: run.timeouts,
  };
}

/**
 * Warms the load generator's own code before it loads the gateway: `rounds` loads, each given the
 * base URL of a server in this process that answers every request 202 with a receipt at once.
 * Node compiles as it goes, so a cold load generator adds its own first second to the figures:
 * against such a server, a cold generator's first burst of 1,000 signed requests had p99 128 ms,
 * the next ones 16-59 ms (docs/performance-tail.md). The gateway sees none of these requests.
 */
export async function warmLoadGenerator(load: (baseUrl: string) => Promise<unknown>, rounds = 3): Promise<void> {
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => response.writeHead(202, { 'content-type': 'application/json' }).end('{"accepted":true,"duplicate":false}'));
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  try {
    const { port } = server.address() as AddressInfo;
    for (let i = 0; i < rounds; i++) await load(`http://127.0.0.1:${port}`);
  } finally {
    server.closeAllConnections();
    await new Promise((closed) => server.close(closed));
  }
}
