import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Collections } from '../../lib/store/mongo';
import { startRedis, type RunningService } from '../../scripts/local-services';
import { sampleEvent } from '../../scripts/sample-event';
import type { RunningProcess } from '../support/processes';
import { reconcile, waitUntilSettled } from '../support/reconcile';
import { isolatedEnv, postEvent, startOffline, startWorker } from '../support/stack';
import { completedTwice, readLedgerRounds, workerIdOf, workerOfOwner } from '../support/work-spread';

/**
 * Redis SIGKILLed while producers post at a steady rate, then restarted from its AOF
 * (appendfsync everysec) on the same port: a 202 is a promise the event is queued, so every
 * 202 must survive the kill, every refusal must be a 503 with Retry-After, and the workers
 * must take jobs again by themselves.
 */
const SEND_EVERY_MS = 15;
const BEFORE_KILL_MS = 4000;
/**
 * Longer than a worker's blocking wait for jobs (BullMQ's drainDelay, 5 s, plus its 1 s
 * watchdog): the outage in which BullMQ workers were seen never to resume (taskforcesh/bullmq#4585).
 */
const OUTAGE_MS = 7000;
const AFTER_RESTART_MS = 6000;
/**
 * Two workers at 4 × 200 ms calls take about 40 events/s of the sender's 67: a backlog builds,
 * so the kill finds acknowledged events that exist only in Redis (a Redis that came back empty
 * would lose them, and this test would fail).
 */
const WORKER_SETTINGS = {
  ROUTING_LATENCY_MS: '200',
  WORKER_CONCURRENCY: '4',
  LEASE_MS: '3000',
  BACKOFF_BASE_MS: '200',
  BACKOFF_MAX_MS: '2000',
  MAX_BACKLOG: '1000000',
};

/** One request of the open-loop sender and what became of it. */
interface Sent {
  eventId: string;
  sentAt: number;
  repliedAt: number;
  /** 0: no reply at all (the request failed or timed out). */
  status: number;
  retryAfter: string | null;
}

/**
 * Posts a fresh event every `everyMs` on the sender's own schedule (open loop: a slow reply
 * never delays the next request) until `stop()`; resolves with every request once all replied.
 */
function openLoopSender(baseUrl: string, everyMs: number) {
  const sent: Array<Promise<Sent>> = [];
  const started = Date.now();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const post = async (): Promise<Sent> => {
    const event = sampleEvent({ eventId: `rk-${sent.length}` });
    const sentAt = Date.now();
    try {
      const { response } = await postEvent(baseUrl, event);
      return {
        eventId: event.eventId,
        sentAt,
        repliedAt: Date.now(),
        status: response.status,
        retryAfter: response.headers.get('retry-after'),
      };
    } catch {
      return { eventId: event.eventId, sentAt, repliedAt: Date.now(), status: 0, retryAfter: null };
    }
  };
  const tick = () => {
    if (stopped) return;
    // Every request due by now goes out now: a late timer does not thin the load.
    while (started + sent.length * everyMs <= Date.now()) sent.push(post());
    timer = setTimeout(tick, Math.max(0, started + sent.length * everyMs - Date.now()));
  };
  tick();
  return {
    async stop(): Promise<Sent[]> {
      stopped = true;
      clearTimeout(timer);
      return Promise.all(sent);
    },
  };
}

/** How many events the workers have claimed so far (every claim makes a ledger entry). */
async function ledgerSize(mongoUrl: string, dbName: string): Promise<number> {
  const client = await MongoClient.connect(mongoUrl, { serverSelectionTimeoutMS: 5000 });
  try {
    return await client.db(dbName).collection(Collections.ledger).countDocuments();
  } finally {
    await client.close();
  }
}

describe('Redis SIGKILLed mid-burst and restarted from its AOF', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'chaos-redis-kill-'));
  let redis: RunningService;
  let env: Record<string, string>;
  let baseUrl: string;
  const processes: RunningProcess[] = [];

  beforeAll(async () => {
    // A Redis of this test's own (the shared one must not die), with its AOF in `dataDir`.
    redis = await startRedis({ dataDir });
    env = isolatedEnv('redis-kill', { ...WORKER_SETTINGS, REDIS_URL: redis.url });
    const offline = await startOffline(env);
    processes.push(offline.process);
    baseUrl = offline.baseUrl;
  });
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.crash()));
    await redis?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps every 202, answers 503 with Retry-After during the outage, and the workers resume by themselves', async () => {
    const workers = [await startWorker(env), await startWorker(env)];
    processes.push(...workers);
    const workerIds = workers.map(workerIdOf);

    const sender = openLoopSender(baseUrl, SEND_EVERY_MS);
    await sleep(BEFORE_KILL_MS);
    const killedAt = Date.now();
    redis.process.kill('SIGKILL');
    const claimedAtKill = await ledgerSize(env.MONGO_URL!, env.MONGO_DB!);
    await new Promise((done) =>
      redis.process.exitCode !== null || redis.process.signalCode !== null ? done(null) : redis.process.once('exit', done),
    );
    await sleep(OUTAGE_MS);
    redis = await startRedis({ port: redis.port, dataDir });
    const restartedAt = Date.now();
    await sleep(AFTER_RESTART_MS);
    const sent = await sender.stop();

    // Replies: 202 or 503, and every 503 says when to retry.
    expect([...new Set(sent.map((s) => s.status))].sort()).toEqual([202, 503]);
    const refused = sent.filter((s) => s.status === 503);
    expect(refused.filter((s) => !/^[1-9][0-9]*$/.test(s.retryAfter ?? ''))).toEqual([]);
    const accepted = sent.filter((s) => s.status === 202);
    const acceptedBeforeKill = accepted.filter((s) => s.repliedAt < killedAt);
    const acceptedAfterRestart = accepted.filter((s) => s.sentAt >= restartedAt);
    // The kill caught acknowledged events no worker had taken yet: they were only in Redis.
    const onlyInRedisAtKill = acceptedBeforeKill.length - claimedAtKill;
    expect(onlyInRedisAtKill).toBeGreaterThan(0);
    expect(acceptedAfterRestart.length).toBeGreaterThan(0);

    // Every 202 at all, before the kill, around it or after the restart, ends settled, once.
    const acceptedIds = accepted.map((s) => s.eventId);
    const result = await waitUntilSettled(env.MONGO_URL!, env.MONGO_DB!, acceptedIds, 240_000);
    const drainedAt = Date.now();
    expect(result.missing).toEqual([]);
    expect(result.other).toEqual({});
    expect(result.appliedTwice).toEqual([]);
    const { completions } = await readLedgerRounds(env.MONGO_URL!, env.MONGO_DB!);
    expect(completedTwice(completions)).toEqual([]);

    // Both workers are the ones started before the kill, still running, and each finished events after the restart.
    for (const worker of workers) expect(worker.child.exitCode).toBeNull();
    const afterRestart = completions.filter((c) => c.at.getTime() >= restartedAt);
    for (const id of workerIds) expect(afterRestart.filter((c) => workerOfOwner(c.owner) === id).length).toBeGreaterThan(0);

    // Refused requests the queue took anyway (an enqueue Redis ran after the door gave up): harmless, a retry is a duplicate.
    const refusedIds = refused.map((s) => s.eventId);
    const refusedButQueued = refusedIds.length - (await reconcile(env.MONGO_URL!, env.MONGO_DB!, refusedIds)).missing.length;
    const firstNew202 = Math.min(...accepted.filter((s) => s.repliedAt >= restartedAt).map((s) => s.repliedAt));
    console.log(
      JSON.stringify({
        redisKill: {
          requests: sent.length,
          accepted: accepted.length,
          acceptedBeforeKill: acceptedBeforeKill.length,
          onlyInRedisAtKill,
          acceptedAfterRestart: acceptedAfterRestart.length,
          refused503: refused.length,
          retryAfter: [...new Set(refused.map((s) => s.retryAfter))],
          outageMs: restartedAt - killedAt,
          restartToFirst202Ms: firstNew202 - restartedAt,
          restartToDrainMs: drainedAt - restartedAt,
          routed: result.routed,
          deadLettered: result.deadLettered,
          missing: result.missing.length,
          appliedTwice: result.appliedTwice.length,
          refusedButQueued,
          completedAfterRestartByWorker: workerIds.map((id) => afterRestart.filter((c) => workerOfOwner(c.owner) === id).length),
        },
      }),
    );
  }, 300_000);
});
