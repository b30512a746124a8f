import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShipmentEventInput } from '../../lib/events/schema';
import type { LedgerEntry } from '../../lib/ledger/ledger';
import type { DeadLetterRecord } from '../../lib/dead-letters/dead-letter-store';
import { Collections } from '../../lib/store/mongo';
import { freePort } from '../../scripts/local-services';
import { sampleEvent } from '../../scripts/sample-event';
import { waitFor, type RunningProcess } from '../support/processes';
import { waitUntilSettled, type Reconciliation } from '../support/reconcile';
import { RoutingCallOutcome, startRoutingServer, type RoutingCall, type RoutingServer } from '../support/routing-server';
import { getStatus, isolatedEnv, postEvent, startOffline, startWorker } from '../support/stack';

/**
 * A routing service that accepts calls and never answers them, behind the real HTTP adapter:
 * one worker slot (WORKER_CONCURRENCY=1), so a call that held its slot would stop everything.
 * The port's deadline gives each call up after ROUTING_TIMEOUT_MS: the slot goes to the next
 * event, the attempt is a transient failure (retried, then dead-lettered RETRIES_EXHAUSTED),
 * the breaker opens at its threshold, and once the service answers again an event is routed,
 * once. Effects are counted twice over: from the ledger and shipment store, and by the routing
 * service itself (`successesByKey`).
 */
const TIMEOUT_MS = 1000;
const ATTEMPTS = 2;
const BREAKER_THRESHOLD = 3;
const BREAKER_COOLDOWN_MS = 3000;
/** The breaker's gauge on the worker's /metrics: 0 closed, 1 half-open, 2 open. */
const BREAKER_OPEN = 2;

describe('the worker against a routing service that hangs', () => {
  let routing: RoutingServer;
  let env: Record<string, string>;
  let offline: RunningProcess;
  let worker: RunningProcess;
  let baseUrl: string;
  let metricsUrl: string;

  beforeAll(async () => {
    routing = await startRoutingServer({ hang: true });
    const metricsPort = await freePort();
    metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    env = isolatedEnv('routing-hang', {
      ROUTING_URL: routing.url,
      ROUTING_TIMEOUT_MS: String(TIMEOUT_MS),
      WORKER_CONCURRENCY: '1',
      JOB_ATTEMPTS: String(ATTEMPTS),
      BACKOFF_BASE_MS: '200',
      BACKOFF_MAX_MS: '500',
      BREAKER_FAILURE_THRESHOLD: String(BREAKER_THRESHOLD),
      BREAKER_COOLDOWN_MS: String(BREAKER_COOLDOWN_MS),
      METRICS_PORT: String(metricsPort),
    });
    ({ process: offline, baseUrl } = await startOffline(env));
    worker = await startWorker(env);
  });
  afterAll(async () => {
    await worker?.stop();
    await offline?.stop();
    await routing?.close();
  });

  it('gives each call up at the deadline, frees the slot, opens the breaker and dead-letters after the attempts', async () => {
    const events = [0, 1, 2].map((i) => sampleEvent({ eventId: `hang-${i}-${Date.now()}` }));
    for (const event of events) await postAccepted(baseUrl, event);

    // One slot: a second event is called only once the first call was given up.
    const firstCalls = await waitFor(
      'a routing call for every event',
      async () => {
        const calls = events.map((event) => routing.calls().find((call) => call.eventId === event.eventId));
        return calls.every((call) => call?.endedAt !== undefined) ? (calls as RoutingCall[]) : undefined;
      },
      60_000,
      100,
    );
    const ordered = [...firstCalls].sort((a, b) => a.at - b.at);
    for (let i = 1; i < ordered.length; i++) expect(ordered[i]!.at).toBeGreaterThanOrEqual(ordered[i - 1]!.endedAt!);
    const held = ordered.map((call) => call.endedAt! - call.at);
    const freed = ordered.slice(1).map((call, i) => call.at - ordered[i]!.at);
    console.info(`routing-hang: calls held ${held.join(', ')} ms; next event's call after ${freed.join(', ')} ms`);

    // The third consecutive timeout opens the breaker (events wait without using attempts).
    await waitFor('the breaker to open', async () => ((await breakerState(metricsUrl)) === BREAKER_OPEN ? true : undefined), 30_000, 100);

    const result = await settled(env, events);
    expect(result).toMatchObject({ expected: 3, deadLettered: 3, routed: 0, missing: [], appliedTwice: [], other: {} });
    for (const entry of await ledgerEntries(env, events)) {
      expect(entry.attemptHistory).toHaveLength(ATTEMPTS);
      for (const failure of entry.attemptHistory) {
        expect(failure).toMatchObject({ error: 'TransientRoutingError', message: `routing timed out after ${TIMEOUT_MS} ms` });
      }
    }
    for (const record of await deadLetters(env, events)) {
      expect(record).toMatchObject({ reason: 'RETRIES_EXHAUSTED', attempts: ATTEMPTS, error: { name: 'TransientRoutingError' } });
    }
    // The service's own count: one call per attempt, each given up by the gateway, nothing routed.
    for (const event of events) {
      const calls = routing.calls().filter((call) => call.eventId === event.eventId);
      expect(calls.map((call) => call.outcome)).toEqual(Array(ATTEMPTS).fill(RoutingCallOutcome.ABORTED));
    }
    expect(routing.successesByKey().size).toBe(0);
    expect(worker.output()).toMatch(/"message":"event delayed without using an attempt".*"reason":"CircuitOpenError"/);
  }, 180_000);

  it('routes an event exactly once when the service answers again, and the breaker closes', async () => {
    const event = sampleEvent({ eventId: `recover-${Date.now()}` });
    await postAccepted(baseUrl, event);
    // Its first call (the breaker's probe, once the cool-down is over) hangs and is given up.
    await waitFor(
      'the first call to be given up',
      async () => (routing.calls().some((c) => c.eventId === event.eventId && c.endedAt) ? true : undefined),
      60_000,
      100,
    );
    routing.set({ hang: false });

    const result = await settled(env, [event]);
    expect(result).toMatchObject({ expected: 1, routed: 1, deadLettered: 0, missing: [], appliedTwice: [], other: {} });
    const { json: view } = await getStatus(baseUrl, event.eventId);
    expect(view).toMatchObject({ status: 'ROUTED', attemptHistory: [{ error: 'TransientRoutingError' }] });
    const calls = routing.calls().filter((call) => call.eventId === event.eventId);
    expect(calls.map((call) => call.outcome)).toEqual([RoutingCallOutcome.ABORTED, RoutingCallOutcome.ROUTED]);
    expect(routing.successesByKey()).toEqual(new Map([[`dhl:${event.eventId}`, 1]]));
    await waitFor('the breaker to close', async () => ((await breakerState(metricsUrl)) === 0 ? true : undefined), 30_000, 100);
  }, 180_000);
});

/** POSTs the event until the door accepts it, as a producer does after a 503 (this machine is shared and busy). */
async function postAccepted(baseUrl: string, event: ShipmentEventInput): Promise<void> {
  for (let tries = 1; ; tries++) {
    const { response, json } = await postEvent(baseUrl, event);
    if (response.status === 202) return;
    if (response.status !== 503 || tries === 5) throw new Error(`the door answered ${response.status}: ${JSON.stringify(json)}`);
    console.info(`routing-hang: the door answered 503 (${JSON.stringify(json)}); posting again`);
    await sleep(1000);
  }
}

async function breakerState(metricsUrl: string): Promise<number | undefined> {
  const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(5000) })).text();
  const match = /^gateway_routing_breaker_state(?:\{[^}]*\})? (\d+)$/m.exec(text);
  return match ? Number(match[1]) : undefined;
}

function settled(env: Record<string, string>, events: Array<{ eventId: string }>): Promise<Reconciliation> {
  return waitUntilSettled(
    env.MONGO_URL!,
    env.MONGO_DB!,
    events.map((event) => event.eventId),
    120_000,
  );
}

async function withDb<T>(env: Record<string, string>, read: (db: ReturnType<MongoClient['db']>) => Promise<T>): Promise<T> {
  const client = await MongoClient.connect(env.MONGO_URL!);
  try {
    return await read(client.db(env.MONGO_DB));
  } finally {
    await client.close();
  }
}

function ledgerEntries(env: Record<string, string>, events: Array<{ eventId: string }>): Promise<LedgerEntry[]> {
  return withDb(env, (db) =>
    db
      .collection<LedgerEntry>(Collections.ledger)
      .find({ eventId: { $in: events.map((event) => event.eventId) } })
      .toArray(),
  ).then((entries) => (expect(entries).toHaveLength(events.length), entries));
}

function deadLetters(env: Record<string, string>, events: Array<{ eventId: string }>): Promise<DeadLetterRecord[]> {
  return withDb(env, (db) =>
    db
      .collection<DeadLetterRecord>(Collections.deadLetters)
      .find({ eventId: { $in: events.map((event) => event.eventId) } })
      .toArray(),
  ).then((records) => (expect(records).toHaveLength(events.length), records));
}
