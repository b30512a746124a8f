import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DeadLetterRecord } from '../../lib/dead-letters/dead-letter-store';
import type { ShipmentEventInput } from '../../lib/events/schema';
import type { LedgerEntry } from '../../lib/ledger/ledger';
import { DEAD_LETTER_QUEUE, jobIdFor } from '../../lib/queue/names';
import { Collections } from '../../lib/store/mongo';
import { sampleEvent } from '../../scripts/sample-event';
import { waitFor, type RunningProcess } from '../support/processes';
import { hostPort, startToxiproxy, throughProxy, type Proxy, type ToxiproxyServer } from '../support/toxiproxy';
import { isolatedEnv, postMany, startOffline, startWorker } from '../support/stack';

/**
 * A dead letter that cannot be written: events exhaust their attempts (the routing service
 * always fails) and the worker's link to Mongo is cut, through a real Toxiproxy, just as they
 * are on their last attempt, so recording the dead letter fails. None may be lost or left where
 * no one looks: once Mongo is back, each is DEAD_LETTERED in the ledger, has its dead-letter
 * record with every attempt in its history, and the record's derived job in the Redis DLQ. An
 * attempt that Mongo failed after the event was claimed is used like any failed attempt, so an
 * event may be dead-lettered with a Mongo error as its last failure: recorded, not lost.
 */
const ATTEMPTS = 3;
const EVENTS = 30;
const OUTAGE_MS = 15_000;

const EXHAUSTING = {
  JOB_ATTEMPTS: String(ATTEMPTS),
  ROUTING_FAILURE_RATE: '1',
  // The last attempt's routing call is in flight long enough to cut Mongo under it.
  ROUTING_LATENCY_MS: '2000',
  BACKOFF_BASE_MS: '300',
  BACKOFF_MAX_MS: '1000',
  BACKOFF_JITTER: '0',
  // The breaker would park the events (waiting without attempts) instead of exhausting them.
  BREAKER_FAILURE_THRESHOLD: '1000000',
  LEASE_MS: '5000',
  WORKER_CONCURRENCY: '50',
};

/** What must hold for every event once Mongo is back, read from Mongo and Redis directly. */
async function deadLetterTrail(env: Record<string, string>, events: ShipmentEventInput[]) {
  const mongo = await MongoClient.connect(env.MONGO_URL!, { serverSelectionTimeoutMS: 5000 });
  const redis = new Redis(env.REDIS_URL!, { maxRetriesPerRequest: 1 });
  const dlq = new Queue(DEAD_LETTER_QUEUE, { connection: redis, prefix: env.QUEUE_PREFIX! });
  try {
    const db = mongo.db(env.MONGO_DB);
    const keys = events.map((event) => `${event.source}:${event.eventId}`);
    const ledger = await db
      .collection<LedgerEntry>(Collections.ledger)
      .find({ _id: { $in: keys } })
      .toArray();
    const records = await db
      .collection<DeadLetterRecord>(Collections.deadLetters)
      .find({ idempotencyKey: { $in: keys } })
      .toArray();
    const problems: string[] = [];
    for (const key of keys) {
      const entry = ledger.find((e) => e._id === key);
      if (entry?.status !== 'DEAD_LETTERED') problems.push(`${key}: ledger ${entry?.status ?? 'missing'}`);
      const mine = records.filter((r) => r.idempotencyKey === key);
      if (mine.length !== 1) {
        problems.push(`${key}: ${mine.length} dead-letter records`);
        continue;
      }
      const record = mine[0]!;
      if (record.status !== 'PENDING') problems.push(`${key}: record ${record.status}`);
      if (record.attempts !== ATTEMPTS) problems.push(`${key}: record says ${record.attempts} attempts`);
      const history = record.attemptHistory.map((a) => a.attempt).sort((a, b) => a - b);
      const expected = Array.from({ length: ATTEMPTS }, (_, i) => i + 1);
      if (JSON.stringify(history) !== JSON.stringify(expected)) problems.push(`${key}: history ${JSON.stringify(history)}`);
      // Each attempt failed on the routing service, or on Mongo when the cut came during it (that
      // attempt is used, and recorded); the first came before any cut.
      const errors = [...record.attemptHistory].sort((a, b) => a.attempt - b.attempt).map((a) => a.error);
      if (errors[0] !== 'TransientRoutingError' || !errors.every((error) => error === 'TransientRoutingError' || /^Mongo/.test(error))) {
        problems.push(`${key}: history errors ${errors.join(',')}`);
      }
      if (record.error.name !== errors.at(-1)) problems.push(`${key}: record error ${record.error.name}, last attempt ${errors.at(-1)}`);
      const job = await dlq.getJob(`${jobIdFor(record._id)}-d0`);
      if (!job) problems.push(`${key}: no Redis dead-letter job`);
    }
    return problems;
  } finally {
    await dlq.close();
    redis.disconnect();
    await mongo.close();
  }
}

/** Ledger entries on their last attempt with the routing call in flight, read directly. */
async function onLastAttempt(env: Record<string, string>, client: MongoClient): Promise<number> {
  return client.db(env.MONGO_DB).collection(Collections.ledger).countDocuments({ attempts: ATTEMPTS, status: 'ROUTING_PENDING' });
}

/** A write to the ledger's database through `client`: how long it took, or why it failed. */
async function timedWrite(env: Record<string, string>, client: MongoClient, via: string): Promise<string> {
  const started = Date.now();
  return client
    .db(env.MONGO_DB)
    .collection('probe')
    .insertOne({ at: new Date() }, { timeoutMS: 10_000 })
    .then(
      () => `a write ${via} took ${Date.now() - started} ms`,
      (error: unknown) => `a write ${via} failed: ${String(error)}`,
    );
}

/**
 * What a failure report needs beyond the trail: whether Mongo takes a write directly and through
 * the worker's proxy (with what Toxiproxy says of that proxy and logged), and the worker's last words.
 */
async function diagnosis(
  env: Record<string, string>,
  watcher: MongoClient,
  proxy: Proxy,
  worker: RunningProcess | undefined,
  toxiproxy: ToxiproxyServer,
): Promise<string[]> {
  const direct = await timedWrite(env, watcher, 'direct');
  const proxied = await MongoClient.connect(throughProxy(env.MONGO_URL!, proxy), { serverSelectionTimeoutMS: 5000 }).then(
    async (client) => {
      try {
        return await timedWrite(env, client, 'through the proxy');
      } finally {
        await client.close();
      }
    },
    (error: unknown) => `a connection through the proxy failed: ${String(error)}`,
  );
  const state = await proxy.state().then(JSON.stringify, (error: unknown) => `proxy state unknown: ${String(error)}`);
  return [direct, proxied, state, `toxiproxy logged: ${toxiproxy.output().slice(-2000)}`, worker?.output().slice(-6000) ?? 'no worker'];
}

function couldNotRecord(worker: RunningProcess): number {
  return worker.output().split('could not record the dead letter').length - 1;
}

describe('a dead letter that cannot be written (Mongo cut through Toxiproxy)', () => {
  let toxiproxy: ToxiproxyServer;
  let offline: RunningProcess;
  let baseUrl: string;
  let shared: Record<string, string>;
  let worker: RunningProcess | undefined;
  let watcher: MongoClient;

  beforeAll(async () => {
    shared = isolatedEnv('dl-unwritable', EXHAUSTING);
    toxiproxy = await startToxiproxy();
    ({ process: offline, baseUrl } = await startOffline(shared));
    watcher = await MongoClient.connect(shared.MONGO_URL!);
  });
  afterEach(async () => {
    await worker?.crash();
    worker = undefined;
  });
  afterAll(async () => {
    await watcher?.close();
    await offline?.stop();
    await toxiproxy?.stop();
  });

  /** Starts a worker whose Mongo is behind a fresh proxy; events on the shared door, ledger in `db`. */
  async function exhaustingWorker(name: string): Promise<{ env: Record<string, string>; proxy: Proxy; events: ShipmentEventInput[] }> {
    const proxy = await toxiproxy.createProxy(name, hostPort(shared.MONGO_URL!));
    const env = { ...shared };
    worker = await startWorker({ ...env, MONGO_URL: throughProxy(shared.MONGO_URL!, proxy) });
    const events = Array.from({ length: EVENTS }, () => sampleEvent({ source: name.replace(/_/g, '-') }));
    return { env, proxy, events };
  }

  async function cutOnLastAttempt(env: Record<string, string>, cut: () => Promise<void>, events: ShipmentEventInput[]) {
    expect((await postMany(baseUrl, events)).every((status) => status === 202)).toBe(true);
    await waitFor(
      'events on their last attempt',
      async () => ((await onLastAttempt(env, watcher)) >= EVENTS / 3 ? true : undefined),
      60_000,
      50,
    );
    await cut();
  }

  /** What is missing from the events' dead-letter trail once it settles (nothing, or the problems and a diagnosis). */
  async function settledTrail(env: Record<string, string>, events: ShipmentEventInput[], proxy: Proxy): Promise<string[]> {
    return waitFor(
      'every event dead-lettered with its full trail',
      async () => {
        const found = await deadLetterTrail(env, events);
        return found.length === 0 ? found : undefined;
      },
      90_000,
      1000,
    ).catch(async (error: unknown) => [
      String(error),
      ...(await deadLetterTrail(env, events)),
      ...(await diagnosis(env, watcher, proxy, worker, toxiproxy)),
    ]);
  }

  it('dead-letters every event once Mongo is back when the proxy refused connections during the last attempt', async () => {
    const { env, proxy, events } = await exhaustingWorker('dl_refused');
    await cutOnLastAttempt(env, () => proxy.setEnabled(false), events);
    await new Promise((done) => setTimeout(done, OUTAGE_MS));
    const failedWrites = couldNotRecord(worker!);
    await proxy.setEnabled(true);
    const restored = Date.now();
    const problems = await settledTrail(env, events, proxy);
    console.log(JSON.stringify({ fault: 'proxy disabled', events: EVENTS, failedWrites, settledAfterMs: Date.now() - restored }));
    expect(problems).toEqual([]);
    // The cut hit dead-lettering itself, not only the attempts before it.
    expect(failedWrites).toBeGreaterThan(0);
  }, 180_000);

  it('dead-letters every event once Mongo is back when its link was blackholed during the last attempt', async () => {
    const { env, proxy, events } = await exhaustingWorker('dl_blackholed');
    const blackhole = async () => {
      await proxy.addToxic({ type: 'timeout', stream: 'upstream', attributes: { timeout: 0 } });
      await proxy.addToxic({ type: 'timeout', stream: 'downstream', attributes: { timeout: 0 } });
    };
    await cutOnLastAttempt(env, blackhole, events);
    await new Promise((done) => setTimeout(done, OUTAGE_MS));
    const failedWrites = couldNotRecord(worker!);
    await proxy.clearToxics();
    const restored = Date.now();
    const problems = await settledTrail(env, events, proxy);
    console.log(
      JSON.stringify({
        fault: 'blackhole',
        events: EVENTS,
        failedWritesDuring: failedWrites,
        failedWrites: couldNotRecord(worker!),
        settledAfterMs: Date.now() - restored,
      }),
    );
    expect(problems).toEqual([]);
    expect(couldNotRecord(worker!)).toBeGreaterThan(0);
  }, 180_000);
});
