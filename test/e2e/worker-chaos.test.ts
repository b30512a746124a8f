import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient } from 'mongodb';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFerretDb, startRedis, freePort, type RunningService } from '../../scripts/local-services';
import { sampleEvent } from '../../scripts/sample-event';
import { Collections } from '../../lib/store/mongo';
import { exitState, RUNNING, waitFor, type RunningProcess } from '../support/processes';
import { reconcile, waitUntilSettled } from '../support/reconcile';
import { isolatedEnv, postMany, shipmentEvents, startOffline, startWorker } from '../support/stack';

/**
 * The worker under crashes, outages, duplicates and reorders, with real processes and servers.
 * Each test ends by reconciling from Mongo: every accepted event ROUTED or DEAD_LETTERED once,
 * and no shipment with an event applied twice.
 */
const FAST_WORKER = {
  ROUTING_LATENCY_MS: '20',
  WORKER_CONCURRENCY: '50',
  LEASE_MS: '3000',
  BACKOFF_BASE_MS: '200',
  BACKOFF_MAX_MS: '2000',
  MAX_BACKLOG: '1000000',
};

function expectSettledOnce(result: Awaited<ReturnType<typeof reconcile>>, routedAll = true) {
  expect(result.missing).toEqual([]);
  expect(result.other).toEqual({});
  expect(result.appliedTwice).toEqual([]);
  if (routedAll) expect(result.routed).toBe(result.expected);
}

describe('the worker on the shared services', () => {
  const shared = isolatedEnv('chaos', FAST_WORKER);
  let env = shared;
  let offline: RunningProcess;
  let baseUrl: string;
  const workers: RunningProcess[] = [];

  beforeAll(async () => {
    ({ process: offline, baseUrl } = await startOffline(shared));
  });
  beforeEach((context) => {
    // A database per test (the queue is the offline's): each reconciles only its own ledger.
    env = { ...shared, MONGO_DB: `${shared.MONGO_DB}_${context.task.id.replace(/[^A-Za-z0-9]/g, '')}` };
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.crash()));
  });
  afterAll(async () => offline?.stop());

  it('loses nothing and applies nothing twice when the worker is SIGKILLed again and again', async () => {
    const events = shipmentEvents(2000, 200, 'kill');
    workers.push(await startWorker(env));
    const posting = postMany(baseUrl, events);
    for (let round = 0; round < 3; round++) {
      await sleep(1500);
      await workers.pop()!.crash();
      workers.push(await startWorker(env));
    }
    expect((await posting).every((status) => status === 202)).toBe(true);
    const result = await waitUntilSettled(
      env.MONGO_URL!,
      env.MONGO_DB!,
      events.map((e) => e.eventId),
      480_000,
    );
    expectSettledOnce(result);
  }, 600_000);

  it('routes the same 500 events posted three times at once exactly once', async () => {
    const events = shipmentEvents(500, 50, 'dup');
    const tripled = [...events, ...events, ...events].sort(() => Math.random() - 0.5);
    workers.push(await startWorker(env));
    const statuses = await postMany(baseUrl, tripled, 60);
    expect(statuses.every((status) => status === 202)).toBe(true);
    const result = await waitUntilSettled(
      env.MONGO_URL!,
      env.MONGO_DB!,
      events.map((e) => e.eventId),
    );
    expectSettledOnce(result);
  }, 180_000);

  it('leaves a shipment in the state of its newest event when events arrive out of order', async () => {
    const events = shipmentEvents(12, 1, 'order');
    const shuffled = [...events].reverse();
    workers.push(await startWorker(env));
    expect((await postMany(baseUrl, shuffled, 12)).every((status) => status === 202)).toBe(true);
    expectSettledOnce(
      await waitUntilSettled(
        env.MONGO_URL!,
        env.MONGO_DB!,
        events.map((e) => e.eventId),
      ),
    );
    const client = await MongoClient.connect(env.MONGO_URL!);
    try {
      const shipment = await client
        .db(env.MONGO_DB)
        .collection(Collections.shipments)
        .findOne({ _id: 'order-S0' as never });
      expect(shipment).toMatchObject({ status: 'STEP_11', lastEventId: 'order-11' });
    } finally {
      await client.close();
    }
  }, 120_000);

  it('drains on SIGTERM: in-flight events finish, the process exits 0 within the drain time, nothing is lost', async () => {
    const drainEnv = { ...env, ROUTING_LATENCY_MS: '1500', DRAIN_TIMEOUT_MS: '8000' };
    const events = shipmentEvents(40, 40, 'drain');
    const worker = await startWorker(drainEnv);
    expect((await postMany(baseUrl, events)).every((status) => status === 202)).toBe(true);
    await waitFor(
      'events in flight',
      async () => {
        const r = await reconcile(
          env.MONGO_URL!,
          env.MONGO_DB!,
          events.map((e) => e.eventId),
        );
        return (r.other.ROUTING_PENDING ?? 0) > 0 ? true : undefined;
      },
      30_000,
      100,
    );
    const started = Date.now();
    const code = await worker.stop('SIGTERM', 20_000);
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(8000 + 3000);
    expect(worker.output()).toContain('"drained":true');
    workers.push(await startWorker(env));
    expectSettledOnce(
      await waitUntilSettled(
        env.MONGO_URL!,
        env.MONGO_DB!,
        events.map((e) => e.eventId),
      ),
    );
  }, 120_000);

  it('keeps events waiting, not failing, while the routing circuit is open', async () => {
    const outage = { ...env, ROUTING_FAILURE_RATE: '1', BREAKER_FAILURE_THRESHOLD: '3', BREAKER_COOLDOWN_MS: '20000', JOB_ATTEMPTS: '5' };
    const events = Array.from({ length: 20 }, () => sampleEvent());
    workers.push(await startWorker(outage));
    expect((await postMany(baseUrl, events)).every((status) => status === 202)).toBe(true);
    await sleep(4000);
    const during = await reconcile(
      env.MONGO_URL!,
      env.MONGO_DB!,
      events.map((e) => e.eventId),
    );
    // The calls in flight when the circuit opened failed once; since then every event waits
    // for the circuit with the rest of its attempts intact, instead of burning all five.
    expect(during.deadLettered).toBe(0);
    expect(during.retried).toBeGreaterThan(0);
    expect(during.maxFailures).toBe(1);
    await workers.pop()!.crash();
    workers.push(await startWorker(env));
    expectSettledOnce(
      await waitUntilSettled(
        env.MONGO_URL!,
        env.MONGO_DB!,
        events.map((e) => e.eventId),
        90_000,
      ),
    );
  }, 150_000);
});

describe('the worker through dependency outages (servers of its own)', () => {
  let redis: RunningService;
  let mongo: RunningService;
  let offline: RunningProcess | undefined;
  const workers: RunningProcess[] = [];

  beforeAll(async () => {
    redis = await startRedis({ port: await freePort() });
    mongo = await startFerretDb({ port: await freePort() });
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.crash()));
    await offline?.stop();
    offline = undefined;
  });
  afterAll(async () => {
    await redis?.stop();
    await mongo?.stop();
  });

  it('resumes by itself after Redis restarts mid-run, with nothing lost', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'chaos-redis-'));
    await redis.stop();
    redis = await startRedis({ port: redis.port, dataDir });
    const env: Record<string, string> = {
      ...isolatedEnv('redis-restart', FAST_WORKER),
      REDIS_URL: redis.url,
      MONGO_URL: mongo.url,
      ROUTING_LATENCY_MS: '200',
    };
    const started = await startOffline(env);
    offline = started.process;
    const events = shipmentEvents(600, 60, 'rr');
    workers.push(await startWorker(env));
    expect((await postMany(started.baseUrl, events)).every((s) => s === 202)).toBe(true);
    await sleep(1000);
    await redis.stop();
    await sleep(2000);
    redis = await startRedis({ port: redis.port, dataDir });
    const result = await waitUntilSettled(
      mongo.url,
      env.MONGO_DB!,
      events.map((e) => e.eventId),
      180_000,
    );
    expectSettledOnce(result);
    expect(exitState(workers[0]!.child)).toEqual(RUNNING);
  }, 300_000);

  it('waits out the Mongo server being down for 15 s and routes everything once', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'chaos-mongo-'));
    await mongo.stop();
    mongo = await startFerretDb({ port: mongo.port, dataDir });
    const env: Record<string, string> = {
      ...isolatedEnv('mongo-outage', FAST_WORKER),
      REDIS_URL: redis.url,
      MONGO_URL: mongo.url,
      ROUTING_LATENCY_MS: '200',
      BACKOFF_BASE_MS: '2000',
      BACKOFF_MAX_MS: '10000',
      JOB_ATTEMPTS: '8',
    };
    const started = await startOffline(env);
    offline = started.process;
    const events = shipmentEvents(600, 60, 'mo');
    workers.push(await startWorker(env));
    expect((await postMany(started.baseUrl, events)).every((s) => s === 202)).toBe(true);
    await sleep(1000);
    await mongo.stop();
    await sleep(15_000);
    mongo = await startFerretDb({ port: mongo.port, dataDir });
    const result = await waitUntilSettled(
      mongo.url,
      env.MONGO_DB!,
      events.map((e) => e.eventId),
      240_000,
    );
    expectSettledOnce(result);
    expect(exitState(workers[0]!.child)).toEqual(RUNNING);
  }, 360_000);
});
