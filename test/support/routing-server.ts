import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseShipmentEvent } from '../../lib/events/schema';
import { decideRoute } from '../../lib/routing/simulated-routing-service';
import type { ShipmentState } from '../../lib/shipments/shipment-store';

/**
 * A real routing service for tests: a node:http server on a free port that speaks the protocol
 * of `lib/routing/http-routing-service.ts` (start the worker with `ROUTING_URL: server.url`).
 * It decides like the simulator (`decideRoute`), can be made slow, failing or hanging while the
 * test runs, and keeps its own record of every call, so a test counts effects independently of
 * the gateway's ledger.
 *
 * @example
 * const routing = await startRoutingServer({ latencyMs: 50 });
 * const worker = await startWorker({ ...env, ROUTING_URL: routing.url });
 * routing.set({ hang: true });            // calls are accepted and never answered
 * routing.set({ hang: false, failureRate: 0.3 }); // 30% answered 503
 * // ... post events, wait until they settle ...
 * for (const key of acceptedKeys) expect(routing.successesByKey().get(key)).toBe(1);
 * await routing.close();
 *
 * Keys are the `idempotency-key` header the gateway sends: the event's idempotencyKey, which
 * is `<source>:<eventId>` unless the producer gave one (`defaultIdempotencyKey`).
 */
export interface RoutingServer {
  /** The URL to give the worker as ROUTING_URL. */
  readonly url: string;
  /** Changes how the following calls are answered (calls already waiting keep their behaviour). */
  set(behaviour: Partial<RoutingBehaviour>): void;
  /** Every call received, in order of arrival, each with its outcome once it has one. */
  calls(): readonly RoutingCall[];
  /** Calls answered 200 with a decision, by idempotency key: 1 for each event routed exactly once. */
  successesByKey(): Map<string, number>;
  /** Answers nothing more: hanging calls are cut, the port is released. Safe to call twice. */
  close(): Promise<void>;
}

export interface RoutingBehaviour {
  /** How long each call waits before it is answered. Default 0. */
  latencyMs: number;
  /** Share of calls, 0..1, answered `failureStatus` after the latency. Default 0. */
  failureRate: number;
  /** The status of a failed call. Default 503. */
  failureStatus: number;
  /** Accept each call and never answer it (until `close`). Default false. */
  hang: boolean;
  /** The `authorization` header a call must carry, as a service with a credential checks; else 401. Default: none. */
  authorization?: string;
}

export const RoutingCallOutcome = {
  /** Answered 200 with a decision: an effect. */
  ROUTED: 'routed',
  /** Answered `failureStatus` (failure rate). */
  FAILED: 'failed',
  /** Answered 400: the body is not a routing request. */
  REJECTED: 'rejected',
  /** Answered 401: the call lacked the credential the service asks for. */
  UNAUTHORIZED: 'unauthorized',
  /** Not answered yet (a hanging call stays so until the caller hangs up). */
  PENDING: 'pending',
  /** The caller hung up before an answer was sent: no effect. */
  ABORTED: 'aborted',
} as const;
export type RoutingCallOutcome = (typeof RoutingCallOutcome)[keyof typeof RoutingCallOutcome];

export interface RoutingCall {
  /** The `idempotency-key` header ('' when absent). */
  idempotencyKey: string;
  /** The `x-correlation-id` header ('' when absent). */
  correlationId: string;
  /** The body's eventId ('' when it has none). */
  eventId: string;
  outcome: RoutingCallOutcome;
  /** When the call arrived (ms since the epoch). */
  at: number;
  /** When it was answered or the caller hung up (ms since the epoch); absent while pending. */
  endedAt?: number;
}

const DEFAULTS: RoutingBehaviour = { latencyMs: 0, failureRate: 0, failureStatus: 503, hang: false };

/** Starts the server on a free port of 127.0.0.1 with the given behaviour. */
export async function startRoutingServer(initial: Partial<RoutingBehaviour> = {}): Promise<RoutingServer> {
  let behaviour: RoutingBehaviour = { ...DEFAULTS, ...initial };
  const calls: RoutingCall[] = [];

  const server = createServer((request, response) => {
    const call: RoutingCall = {
      idempotencyKey: header(request, 'idempotency-key'),
      correlationId: header(request, 'x-correlation-id'),
      eventId: '',
      outcome: RoutingCallOutcome.PENDING,
      at: Date.now(),
    };
    calls.push(call);
    void answer(call, request, response, behaviour);
  });
  // Keep-alive connections from the gateway stay open between calls; `close` cuts them.
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}/route`,
    set(changes) {
      behaviour = { ...behaviour, ...changes };
    },
    calls: () => calls,
    successesByKey() {
      const counts = new Map<string, number>();
      for (const call of calls) {
        if (call.outcome === RoutingCallOutcome.ROUTED) counts.set(call.idempotencyKey, (counts.get(call.idempotencyKey) ?? 0) + 1);
      }
      return counts;
    },
    close() {
      closing ??= new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

async function answer(call: RoutingCall, request: IncomingMessage, response: ServerResponse, behaviour: RoutingBehaviour): Promise<void> {
  let hungUp = false;
  response.once('close', () => {
    hungUp = !response.writableFinished;
    call.endedAt ??= Date.now();
    if (hungUp && call.outcome === RoutingCallOutcome.PENDING) call.outcome = RoutingCallOutcome.ABORTED;
  });
  const body = await readBody(request);
  const parsed = parseRequest(body);
  call.eventId = parsed?.eventId ?? '';
  if (behaviour.hang) return; // accepted, never answered
  if (behaviour.latencyMs > 0) await sleep(behaviour.latencyMs);
  if (hungUp) return;
  call.endedAt = Date.now();
  if (behaviour.authorization !== undefined && header(request, 'authorization') !== behaviour.authorization) {
    call.outcome = RoutingCallOutcome.UNAUTHORIZED;
    reply(response, 401, { error: 'missing or wrong credential' });
  } else if (!parsed) {
    call.outcome = RoutingCallOutcome.REJECTED;
    reply(response, 400, { error: 'not a routing request' });
  } else if (behaviour.failureRate > 0 && Math.random() < behaviour.failureRate) {
    call.outcome = RoutingCallOutcome.FAILED;
    reply(response, behaviour.failureStatus, { error: 'routing failed (injected)' });
  } else {
    call.outcome = RoutingCallOutcome.ROUTED;
    reply(response, 200, decideRoute(parsed.request));
  }
}

function parseRequest(body: string): { eventId: string; request: Parameters<typeof decideRoute>[0] } | undefined {
  try {
    const json = JSON.parse(body) as { eventId?: unknown; event?: unknown; shipment?: unknown };
    const parsed = parseShipmentEvent(json.event);
    if (!parsed.ok || typeof json.eventId !== 'string') return undefined;
    const shipment = typeof json.shipment === 'object' && json.shipment !== null ? (json.shipment as ShipmentState) : null;
    return { eventId: json.eventId, request: { event: parsed.event, shipment } };
  } catch {
    return undefined;
  }
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of request) chunks.push(chunk as Buffer);
  } catch {
    // The caller hung up mid-body: what arrived is not a request.
  }
  return Buffer.concat(chunks).toString('utf8');
}

function reply(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

function header(request: IncomingMessage, name: string): string {
  const value = request.headers[name];
  return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
}
