import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShipmentEventInput } from '../../lib/events/schema';
import { Collections } from '../../lib/store/mongo';
import { waitFor, type RunningProcess } from '../support/processes';
import { waitUntilSettled, type Reconciliation } from '../support/reconcile';
import { startRoutingServer, type RoutingServer } from '../support/routing-server';
import { hostPort, startToxiproxy, throughProxy, type Proxy, type Toxic, type ToxiproxyServer } from '../support/toxiproxy';
import { isolatedEnv, postEvent, shipmentEvents, startOffline, startWorker } from '../support/stack';

/**
 * Network faults between the gateway's processes and their stores, injected by a real
 * Toxiproxy: the two workers reach Redis and FerretDB, and the door (serverless offline) reaches
 * Redis, each only through a proxy of its own. While the workers drain a batch (part of it
 * posted twice), every link gets in turn 500 ms of latency, a bandwidth cap, connection resets
 * and a 20 s blackhole. Then: nothing lost, nothing applied twice, everything settled within a
 * bound once the faults clear, the door refusing with 503 + Retry-After within its enqueue
 * deadline while its Redis is blackholed, and /ready saying so. The workers call a real routing
 * service (test/support/routing-server.ts) that counts its successful routings by idempotency
 * key: a count of effects kept outside the gateway's own stores.
 */
const ENQUEUE_TIMEOUT_MS = 1500;
/** How late a refusal may come after ENQUEUE_TIMEOUT_MS on a busy machine: a bound, not a benchmark. */
const REFUSAL_MARGIN_MS = 2000;
const BLACKHOLE_MS = 20_000;
/** Once the last fault clears, every event must be ROUTED or DEAD_LETTERED within this. */
const SETTLE_BOUND_MS = 120_000;

const EVENTS = 900;
const SHIPMENTS = 90;
const POSTED_TWICE = 150;

const ROUTING_LATENCY_MS = 200;

const WORKER_SETTINGS = {
  WORKER_CONCURRENCY: '20',
  // One global pace for both workers, so the drain outlasts the fault sequence.
  WORKER_RATE_LIMIT_PER_SECOND: '15',
  // Shorter than the blackhole: job locks and ledger leases run out while the workers are cut off.
  LEASE_MS: '8000',
  ENQUEUE_TIMEOUT_MS: String(ENQUEUE_TIMEOUT_MS),
  MAX_BACKLOG: '1000000',
};

/** One fault as the test applies it to every proxy. */
interface Fault {
  name: string;
  toxics: Toxic[];
  durationMs: number;
}

const FAULTS: Fault[] = [
  { name: 'latency 500 ms', toxics: [{ type: 'latency', attributes: { latency: 500 } }], durationMs: 10_000 },
  { name: 'bandwidth 4 KB/s', toxics: [{ type: 'bandwidth', attributes: { rate: 4 } }], durationMs: 10_000 },
  // Every connection is reset half a second after the first byte it carries, again and again.
  { name: 'connection resets', toxics: [{ type: 'reset_peer', attributes: { timeout: 500 } }], durationMs: 10_000 },
  {
    name: 'blackhole 20 s',
    // Nothing passes either way and no connection closes until the toxic goes.
    toxics: [
      { type: 'timeout', stream: 'upstream', attributes: { timeout: 0 } },
      { type: 'timeout', stream: 'downstream', attributes: { timeout: 0 } },
    ],
    durationMs: BLACKHOLE_MS,
  },
];

/** What the test measured about one fault. */
interface FaultFigures {
  fault: string;
  routedPerSecondDuring: number;
  /** From the fault clearing until the next event was routed. */
  recoveredAfterMs: number;
}

/** Counts ROUTED ledger entries every 250 ms straight from Mongo (not through a proxy). */
function watchRouted(mongoUrl: string, dbName: string) {
  const client = new MongoClient(mongoUrl, { serverSelectionTimeoutMS: 5000 });
  const samples: Array<{ at: number; routed: number }> = [];
  let running = true;
  const loop = (async () => {
    const ledger = client.db(dbName).collection(Collections.ledger);
    while (running) {
      const routed = await ledger.countDocuments({ status: 'ROUTED' }).catch(() => undefined);
      if (routed !== undefined) samples.push({ at: Date.now(), routed });
      await sleep(250);
    }
  })();
  const routedAt = (at: number) => [...samples].reverse().find((s) => s.at <= at)?.routed ?? 0;
  return {
    routedAt,
    /** Waits for the first sample after `since` with more routed than at `since`; ms from `since`. */
    async progressAfter(since: number, timeoutMs = 90_000): Promise<number> {
      const before = routedAt(since);
      const sample = await waitFor(
        'the workers to route another event',
        async () => samples.find((s) => s.at > since && s.routed > before),
        timeoutMs,
        100,
      );
      return sample.at - since;
    },
    async stop() {
      running = false;
      await loop;
      await client.close();
    },
  };
}

/** A producer that retries a refused POST (503, 429) until it gets its 202, as the contract asks. */
async function deliver(baseUrl: string, event: ShipmentEventInput, refusals: number[]): Promise<Record<string, unknown>> {
  for (let tries = 0; tries < 60; tries++) {
    const { response, json } = await postEvent(baseUrl, event).catch(() => ({ response: undefined, json: {} }));
    if (response?.status === 202) return json;
    refusals.push(response?.status ?? 0);
    await sleep(1000);
  }
  throw new Error(`event ${event.eventId} was never accepted`);
}

/** Posts with `concurrency` producers, each delivering until accepted; returns the 202 bodies. */
async function deliverAll(baseUrl: string, events: ShipmentEventInput[], refusals: number[], concurrency = 40) {
  const receipts: Array<Record<string, unknown>> = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < events.length) receipts.push(await deliver(baseUrl, events[next++]!, refusals));
    }),
  );
  return receipts;
}

/** A signed POST timed from send to reply. */
async function timedPost(baseUrl: string, event: ShipmentEventInput) {
  const started = performance.now();
  const { response } = await postEvent(baseUrl, event);
  return { status: response.status, retryAfter: response.headers.get('retry-after'), ms: performance.now() - started };
}

async function readiness(baseUrl: string) {
  const response = await fetch(`${baseUrl}/ready`, { signal: AbortSignal.timeout(10_000) });
  return { status: response.status, json: (await response.json()) as { checks: Record<string, string> } };
}

describe('network faults between the gateway and its stores (Toxiproxy)', () => {
  let toxiproxy: ToxiproxyServer;
  let proxies: Proxy[];
  let env: Record<string, string>;
  let offline: RunningProcess;
  let baseUrl: string;
  let routing: RoutingServer;
  const workers: RunningProcess[] = [];

  beforeAll(async () => {
    env = isolatedEnv('netfaults', WORKER_SETTINGS);
    toxiproxy = await startToxiproxy();
    routing = await startRoutingServer({ latencyMs: ROUTING_LATENCY_MS });
    const workerRedis = await toxiproxy.createProxy('worker_redis', hostPort(env.REDIS_URL!));
    const workerMongo = await toxiproxy.createProxy('worker_mongo', hostPort(env.MONGO_URL!));
    const doorRedis = await toxiproxy.createProxy('door_redis', hostPort(env.REDIS_URL!));
    proxies = [workerRedis, workerMongo, doorRedis];
    const workerEnv = {
      ...env,
      REDIS_URL: throughProxy(env.REDIS_URL!, workerRedis),
      MONGO_URL: throughProxy(env.MONGO_URL!, workerMongo),
      ROUTING_URL: routing.url,
    };
    // The door reads Mongo only for /ready and status: it keeps a direct link there.
    const [door, ...started] = await Promise.allSettled([
      startOffline({ ...env, REDIS_URL: throughProxy(env.REDIS_URL!, doorRedis) }),
      startWorker(workerEnv),
      startWorker(workerEnv),
    ]);
    for (const worker of started) if (worker.status === 'fulfilled') workers.push(worker.value);
    if (door.status === 'fulfilled') ({ process: offline, baseUrl } = door.value);
    const failed = [door, ...started].find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  });

  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.crash()));
    await offline?.stop();
    await toxiproxy?.stop();
    await routing?.close();
  });

  it('loses nothing, applies nothing twice and settles after latency, a bandwidth cap, resets and a 20 s blackhole', async () => {
    const events = shipmentEvents(EVENTS, SHIPMENTS, 'net');
    const refusals: number[] = [];
    const receipts = await deliverAll(baseUrl, events, refusals);
    expect(receipts).toHaveLength(EVENTS);

    const routed = watchRouted(env.MONGO_URL!, env.MONGO_DB!);
    const figures: FaultFigures[] = [];
    const resendReceipts: Array<Promise<Array<Record<string, unknown>>>> = [];
    const faultRefusals: number[] = [];
    const doorRefusals: Array<Awaited<ReturnType<typeof timedPost>>> = [];
    const readyDuring: Array<Awaited<ReturnType<typeof readiness>>> = [];
    const extra: ShipmentEventInput[] = [];
    let readyAgainAfterMs = 0;
    let baselinePerSecond = 0;
    try {
      await routed.progressAfter(Date.now());
      for (const [index, fault] of FAULTS.entries()) {
        await sleep(4000);
        const started = Date.now();
        if (index === 0) baselinePerSecond = (routed.routedAt(started) - routed.routedAt(started - 4000)) / 4;
        for (const proxy of proxies) for (const toxic of fault.toxics) await proxy.addToxic(toxic);
        if (fault.durationMs === BLACKHOLE_MS) {
          // The door, cut off from Redis: each producer gets a 503 with Retry-After, not a hang.
          await sleep(2000);
          readyDuring.push(await readiness(baseUrl));
          for (let wave = 0; wave < 2; wave++) {
            const batch = Array.from({ length: 8 }, (_, i) => shipmentEvents(1, 1, `net-refused-${wave}-${i}`)[0]!);
            extra.push(...batch);
            doorRefusals.push(...(await Promise.all(batch.map((event) => timedPost(baseUrl, event)))));
            await sleep(3000);
          }
          readyDuring.push(await readiness(baseUrl));
        } else {
          // Part of the batch is posted a second time through the faulty door while the fault lasts.
          const share = events.slice(index * (POSTED_TWICE / 3), (index + 1) * (POSTED_TWICE / 3));
          resendReceipts.push(deliverAll(baseUrl, share, faultRefusals, 10));
        }
        await sleep(Math.max(0, started + fault.durationMs - Date.now()));
        const duringRouted = routed.routedAt(Date.now()) - routed.routedAt(started);
        for (const proxy of proxies) await proxy.clearToxics();
        const cleared = Date.now();
        if (fault.durationMs === BLACKHOLE_MS) {
          await waitFor('/ready to answer 200 again', async () => ((await readiness(baseUrl)).status === 200 ? true : undefined), 60_000);
          readyAgainAfterMs = Date.now() - cleared;
        }
        figures.push({
          fault: fault.name,
          routedPerSecondDuring: Math.round((duringRouted / ((cleared - started) / 1000)) * 10) / 10,
          recoveredAfterMs: await routed.progressAfter(cleared),
        });
      }
    } finally {
      await routed.stop();
    }
    const lastCleared = Date.now();

    // The refused producers retry once the door can queue again.
    const resent = (await Promise.all(resendReceipts)).flat();
    const late = await deliverAll(baseUrl, extra, faultRefusals);
    const all = [...events, ...extra];
    const result: Reconciliation = await waitUntilSettled(
      env.MONGO_URL!,
      env.MONGO_DB!,
      all.map((e) => e.eventId),
      SETTLE_BOUND_MS,
    );
    const settledAfterMs = Date.now() - lastCleared;
    // The routing service's own count: every accepted key routed, no key it was never given.
    const accepted = new Set(all.map((e) => `${e.source}:${e.eventId}`));
    const successes = routing.successesByKey();
    const neverRouted = [...accepted].filter((key) => !successes.has(key));
    const unknown = [...successes.keys()].filter((key) => !accepted.has(key));
    // A call repeated under the same idempotency key (an attempt whose lease ran out while it
    // was cut off, taken over after the fault): the key lets the service recognise it.
    const repeated = [...successes.values()].filter((count) => count > 1).length;
    console.log(
      JSON.stringify({
        events: all.length,
        postedTwice: resent.length,
        baselinePerSecond,
        faults: figures,
        blackhole: {
          refusals: doorRefusals.map((r) => Math.round(r.ms)),
          readyDuring: readyDuring.map((r) => r.json.checks),
          readyAgainAfterMs,
        },
        // Refusals are allowed (a busy machine can pass the enqueue deadline); the producer retries.
        refusalsBeforeFaults: refusals.length,
        refusalsDuringOtherFaults: faultRefusals.length,
        settledAfterMs,
        routed: result.routed,
        deadLettered: result.deadLettered,
        retried: result.retried,
        lost: result.missing.length,
        appliedTwice: result.appliedTwice.length,
        routingService: { keysRouted: successes.size, neverRouted: neverRouted.length, keysCalledAgain: repeated },
      }),
    );

    // The door under the blackhole: refused, with Retry-After, within its deadline.
    expect(doorRefusals).toHaveLength(16);
    for (const refusal of doorRefusals) {
      expect(refusal.status).toBe(503);
      expect(Number(refusal.retryAfter)).toBeGreaterThan(0);
      expect(refusal.ms).toBeLessThan(ENQUEUE_TIMEOUT_MS + REFUSAL_MARGIN_MS);
    }
    for (const ready of readyDuring) {
      expect(ready.status).toBe(503);
      expect(ready.json.checks).toMatchObject({ redis: 'down', mongo: 'up' });
    }
    // Duplicates were absorbed, not queued again; every refused event got its 202 later.
    expect(resent.every((receipt) => receipt.duplicate === true)).toBe(true);
    expect(late).toHaveLength(extra.length);
    // Nothing lost, nothing applied twice, nothing stuck, and no fault cost an event its route.
    expect(result.missing).toEqual([]);
    expect(result.other).toEqual({});
    expect(result.appliedTwice).toEqual([]);
    expect(result.routed).toBe(all.length);
    expect(neverRouted).toEqual([]);
    expect(unknown).toEqual([]);
    // The workers resumed by themselves after every fault.
    expect(figures).toHaveLength(FAULTS.length);
    for (const worker of workers)
      expect({ code: worker.child.exitCode, signal: worker.child.signalCode }).toEqual({ code: null, signal: null });
  }, 420_000);
});
