import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShipmentEventInput } from '../../lib/events/schema';
import { EventStatus } from '../../lib/events/status';
import type { ShipmentState } from '../../lib/shipments/shipment-store';
import { Collections } from '../../lib/store/mongo';
import { waitFor, type RunningProcess } from '../support/processes';
import { waitUntilSettled, type Reconciliation } from '../support/reconcile';
import { RoutingCallOutcome, startRoutingServer, type RoutingServer } from '../support/routing-server';
import { isolatedEnv, postMany, shipmentEvents, startOffline, startWorker } from '../support/stack';
import { completedTwice, countByWorker, readLedgerRounds, workerIdOf } from '../support/work-spread';

/**
 * Three worker processes on one queue and one ledger, one of them SIGKILLed and restarted twice
 * while they drain: every accepted event still ends ROUTED or DEAD_LETTERED once, and every
 * shipment ends in the state one undisturbed worker gives the same events. The workers call a
 * real HTTP routing service that keeps its own count of routings per idempotency key.
 */
const EVENTS = 3000;
const SHIPMENTS = 300;
/** Short routing calls and short leases, so the file runs in minutes; the drain still outlasts both kills. */
const ROUTING_LATENCY_MS = 150;
const WORKER_CONCURRENCY = 20;
const WORKER_SETTINGS = {
  WORKER_CONCURRENCY: String(WORKER_CONCURRENCY),
  LEASE_MS: '3000',
  BACKOFF_BASE_MS: '200',
  BACKOFF_MAX_MS: '2000',
  MAX_BACKLOG: '1000000',
};
/**
 * How long before a kill a routing call may have begun and still been the killed worker's
 * last one: the call itself, then the shipment and ledger writes on a busy machine.
 */
const KILL_WINDOW_MS = 10_000;
/** Share of the events settled at which the worker is killed, first and second time. */
const KILL_AT = [0.1, 0.45] as const;

/** The events in posting order: every tenth one posted a second time, a little later. */
function withResends(events: ShipmentEventInput[]): ShipmentEventInput[] {
  const posts = [...events];
  events.forEach((event, i) => {
    if (i % 10 !== 3) return;
    const at = Math.min(posts.length, posts.indexOf(event) + 1 + Math.floor(Math.random() * 100));
    posts.splice(at, 0, event);
  });
  return posts;
}

/** How many events of the database are settled (ROUTED or DEAD_LETTERED). */
async function settledCount(client: MongoClient, dbName: string): Promise<number> {
  return client
    .db(dbName)
    .collection(Collections.ledger)
    .countDocuments({ status: { $in: [EventStatus.ROUTED, EventStatus.DEAD_LETTERED] } });
}

/**
 * What a shipment's final state must agree on whatever order its events were worked in: the
 * newest event decides status, order, hub and lane. Left out: timestamps and versions, the
 * history and the creating event (they record the order events arrived in, and a late older
 * event is skipped as stale, by design), and the routing reason (it names the state the
 * shipment was in when that event was routed).
 */
function finalState(shipment: ShipmentState) {
  return {
    _id: shipment._id,
    status: shipment.status,
    orderId: shipment.orderId,
    lastEventId: shipment.lastEventId,
    lastEventAt: shipment.lastEventAt.toISOString(),
    hub: shipment.route?.hub,
    lane: shipment.route?.lane,
  };
}

async function readShipments(client: MongoClient, dbName: string) {
  const shipments = await client.db(dbName).collection<ShipmentState>(Collections.shipments).find({}).sort({ _id: 1 }).toArray();
  return shipments.map(finalState);
}

/**
 * Posts every event as a courier would: a 503 (the door could not queue it in time, as on a
 * saturated machine) is posted again after a pause, until each event has its 202. Any other
 * refusal fails the test. Returns how many posts were answered 503.
 */
async function postUntilAccepted(baseUrl: string, posts: ShipmentEventInput[]): Promise<number> {
  let pending = posts;
  let refused = 0;
  for (let round = 0; round < 5 && pending.length > 0; round++) {
    if (round > 0) await sleep(2000);
    const statuses = await postMany(baseUrl, pending);
    expect(statuses.filter((s) => s !== 202 && s !== 503)).toEqual([]);
    pending = pending.filter((_, i) => statuses[i] === 503);
    refused += pending.length;
  }
  expect(pending.map((e) => e.eventId)).toEqual([]);
  return refused;
}

function expectEverySettledOnce(result: Reconciliation) {
  expect(result.missing).toEqual([]);
  expect(result.other).toEqual({});
  expect(result.appliedTwice).toEqual([]);
  expect(result.routed + result.deadLettered).toBe(result.expected);
}

describe('three workers on one queue, one of them killed twice', () => {
  const scaled = isolatedEnv('scale-out', WORKER_SETTINGS);
  // The reference run: one worker with the three's concurrency.
  const single = isolatedEnv('scale-out-single', { ...WORKER_SETTINGS, WORKER_CONCURRENCY: String(3 * WORKER_CONCURRENCY) });
  let scaledUrl: string;
  let singleUrl: string;
  const processes: RunningProcess[] = [];
  let mongo: MongoClient;
  const routing: RoutingServer[] = [];

  beforeAll(async () => {
    // A routing service for each run, so each counts only its own run's calls.
    routing.push(await startRoutingServer({ latencyMs: ROUTING_LATENCY_MS }), await startRoutingServer({ latencyMs: ROUTING_LATENCY_MS }));
    scaled.ROUTING_URL = routing[0]!.url;
    single.ROUTING_URL = routing[1]!.url;
    const [a, b] = await Promise.all([startOffline(scaled), startOffline(single)]);
    processes.push(a.process, b.process);
    scaledUrl = a.baseUrl;
    singleUrl = b.baseUrl;
    mongo = await MongoClient.connect(scaled.MONGO_URL!);
  });
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.crash()));
    await Promise.all(routing.map((r) => r.close()));
    await mongo?.close();
  });

  it('settles 3,000 events (10 % re-sent) once each, and leaves every shipment as one worker does', async () => {
    const events = shipmentEvents(EVENTS, SHIPMENTS, 'scale');
    const posts = withResends(events);
    const eventIds = events.map((e) => e.eventId);

    // Three workers; slot 0 is the one killed. Each incarnation's id is read as it starts (its
    // output is trimmed later), for the spread.
    const slots: RunningProcess[][] = await Promise.all([0, 1, 2].map(async () => [await startWorker(scaled)]));
    processes.push(...slots.flat());
    const ids = new Map(slots.flat().map((worker) => [worker, workerIdOf(worker)]));
    const started = Date.now();
    const posting = postUntilAccepted(scaledUrl, posts);
    const kills: Array<{ at: number; settledBefore: number }> = [];
    const killedAt: number[] = [];
    for (const share of KILL_AT) {
      const settledBefore = await waitFor(
        `${share * 100} % of the events settled`,
        async () => {
          const settled = await settledCount(mongo, scaled.MONGO_DB!);
          return settled >= share * EVENTS ? settled : undefined;
        },
        240_000,
        100,
      );
      await slots[0]!.at(-1)!.crash();
      killedAt.push(Date.now());
      kills.push({ at: Date.now() - started, settledBefore });
      const restarted = await startWorker(scaled);
      slots[0]!.push(restarted);
      processes.push(restarted);
      ids.set(restarted, workerIdOf(restarted));
    }
    const refused503 = await posting;
    const result = await waitUntilSettled(scaled.MONGO_URL!, scaled.MONGO_DB!, eventIds, 240_000);
    const drainedAfterMs = Date.now() - started;
    expectEverySettledOnce(result);
    // Both kills came while work was left: otherwise the test proved nothing about them.
    for (const kill of kills) expect(kill.settledBefore).toBeLessThan(EVENTS);

    // Who finished what: each completion is a ledger round stamped with its worker's id.
    const { completions, takeovers } = await readLedgerRounds(scaled.MONGO_URL!, scaled.MONGO_DB!);
    expect(completedTwice(completions)).toEqual([]);
    expect(completions).toHaveLength(EVENTS);
    const byWorker = countByWorker(completions);
    const spread = slots.map((incarnations, slot) =>
      incarnations.map((worker) => ({ slot, workerId: ids.get(worker)!, completed: byWorker.get(ids.get(worker)!) ?? 0 })),
    );
    const known = new Set(spread.flat().map((s) => s.workerId));
    expect([...byWorker.keys()].filter((id) => !known.has(id))).toEqual([]);
    for (const incarnations of spread) expect(incarnations.reduce((sum, s) => sum + s.completed, 0)).toBeGreaterThan(0);

    // The routing service's own count, by idempotency key: every event routed, and more than
    // once only where a kill came between the routing answer and its ledger record (another
    // worker then routes the event again; the key lets a real service recognise the repeat) or
    // where an attempt failed after routing and was retried.
    const successes = routing[0]!.successesByKey();
    const keys = events.map((e) => e.idempotencyKey ?? `${e.source}:${e.eventId}`);
    expect(keys.filter((key) => !successes.has(key))).toEqual([]);
    expect([...successes.keys()].filter((key) => !keys.includes(key))).toEqual([]);
    const routedAgain = keys.filter((key) => successes.get(key)! > 1);
    const firstSuccess = new Map<string, number>();
    for (const call of routing[0]!.calls()) {
      if (call.outcome === RoutingCallOutcome.ROUTED && !firstSuccess.has(call.idempotencyKey))
        firstSuccess.set(call.idempotencyKey, call.at);
    }
    const beforeAKill = (key: string) => killedAt.some((at) => firstSuccess.get(key)! < at && at - firstSuccess.get(key)! < KILL_WINDOW_MS);
    expect(routedAgain.filter((key) => !beforeAKill(key)).length).toBeLessThanOrEqual(result.retried);
    expect(routedAgain.length).toBeLessThanOrEqual(KILL_AT.length * WORKER_CONCURRENCY + result.retried);

    // The same posts through one undisturbed worker, on a queue and database of their own.
    const alone = await startWorker(single);
    processes.push(alone);
    await postUntilAccepted(singleUrl, posts);
    const singleResult = await waitUntilSettled(single.MONGO_URL!, single.MONGO_DB!, eventIds, 240_000);
    expectEverySettledOnce(singleResult);
    // Undisturbed, the routing service sees each key routed once (again only after a failed attempt).
    const singleSuccesses = routing[1]!.successesByKey();
    expect(keys.filter((key) => !singleSuccesses.has(key))).toEqual([]);
    expect(keys.filter((key) => singleSuccesses.get(key)! > 1).length).toBeLessThanOrEqual(singleResult.retried);

    const [scaledShipments, singleShipments] = await Promise.all([
      readShipments(mongo, scaled.MONGO_DB!),
      readShipments(mongo, single.MONGO_DB!),
    ]);
    expect(scaledShipments).toHaveLength(SHIPMENTS);
    expect(scaledShipments).toEqual(singleShipments);

    console.log(
      JSON.stringify({
        scaleOut: {
          events: EVENTS,
          posts: posts.length,
          refused503,
          kills,
          drainedAfterMs,
          routed: result.routed,
          deadLettered: result.deadLettered,
          retried: result.retried,
          takeovers,
          routingCalls: routing[0]!.calls().length,
          routedOnce: keys.length - routedAgain.length,
          routedAgain: routedAgain.length,
          missing: result.missing.length,
          appliedTwice: result.appliedTwice.length,
          spread: spread.flat(),
        },
      }),
    );
  }, 600_000);
});
