/**
 * `npm run bench:worker`: how fast the worker drains a backlog, on real Redis and the real
 * Mongo-wire server (FerretDB here unless MONGO_URL points at MongoDB).
 *
 *  1. BENCH_EVENTS (5000) queued events, routing latency 2 s, concurrency 200: wall time against
 *     the ideal events x latency / concurrency, as a ratio (target <= 1.15).
 *  2. The same number with routing latency 0: events/s through the full worker path
 *     (ledger claim, shipment state, routing, completion) (target >= 1000/s).
 *
 * Peak worker RSS is sampled from /proc. Figures, not assertions. With REDIS_CLUSTER=true it runs
 * on a Redis Cluster (REDIS_URL's, or a local three-node one) under a `{hash tag}` prefix.
 */
import { randomUUID } from 'node:crypto';
import { availableParallelism, totalmem } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { parseShipmentEvent, type QueuedEvent } from '../../lib/events/schema';
import { EVENTS_QUEUE, jobIdFor } from '../../lib/queue/names';
import { createRedis } from '../../lib/queue/redis';
import { startFerretDb, startRedis, startRedisCluster } from '../local-services';
import { procFilesOfGroup } from './process-group';
import { sampleEvent } from '../sample-event';
import { runScript } from '../../test/support/processes';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 5000);

/** Peak RSS (MiB) over every process in the worker's process group. */
function groupRssMiB(pgid: number): number {
  const kb = procFilesOfGroup(pgid, 'status').map((status) => Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0));
  return Math.max(0, ...kb) / 1024;
}

async function drain(label: string, urls: { redis: string; cluster: boolean; mongo: string }, latencyMs: number, concurrency: number) {
  const id = `benchw_${randomUUID().slice(0, 8)}`;
  const prefix = urls.cluster ? `{${id}}` : id;
  const redis = createRedis({ redisUrl: urls.redis, redisCluster: urls.cluster }, 'worker');
  const queue = new Queue<QueuedEvent>(EVENTS_QUEUE, { connection: redis, prefix });
  const jobs = Array.from({ length: EVENTS }, (_, i) => {
    const parsed = parseShipmentEvent(sampleEvent({ eventId: `w-${i}-${randomUUID()}`, payload: { shipmentId: `S-${i}`, status: 'IN_TRANSIT' } }));
    if (!parsed.ok) throw new Error('bad sample');
    const data: QueuedEvent = { event: parsed.event, correlationId: randomUUID(), receivedAt: new Date().toISOString() };
    return { name: parsed.event.eventType, data, opts: { jobId: jobIdFor(parsed.event.idempotencyKey), attempts: 5, backoff: { type: 'capped-exponential' }, removeOnComplete: true } };
  });
  for (let i = 0; i < jobs.length; i += 500) await queue.addBulk(jobs.slice(i, i + 500));
  const worker = runScript('worker', {
    REDIS_URL: urls.redis, REDIS_CLUSTER: String(urls.cluster), MONGO_URL: urls.mongo, MONGO_DB: id, QUEUE_PREFIX: prefix,
    ROUTING_LATENCY_MS: String(latencyMs), WORKER_CONCURRENCY: String(concurrency), POWERTOOLS_LOG_LEVEL: 'WARN',
  });
  let peakRss = 0;
  let started = 0;
  let done = 0;
  try {
    for (;;) {
      if (worker.child.exitCode !== null) throw new Error(`worker exited:\n${worker.output().slice(-2000)}`);
      peakRss = Math.max(peakRss, groupRssMiB(worker.child.pid!));
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      const remaining = Object.values(counts).reduce((a, b) => a + b, 0);
      if (!started && remaining < EVENTS) started = performance.now();
      if (started && remaining === 0) {
        done = performance.now();
        break;
      }
      await sleep(100);
    }
  } finally {
    await worker.stop();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    redis.disconnect();
  }
  const seconds = (done - started) / 1000;
  return { label, seconds, eventsPerSecond: EVENTS / seconds, peakRss };
}

async function main(): Promise<void> {
  const services: Array<{ stop(): Promise<void> }> = [];
  const cluster = process.env.REDIS_CLUSTER === 'true';
  let redisUrl = process.env.REDIS_URL;
  let mongoUrl = process.env.MONGO_URL;
  if (!redisUrl || !mongoUrl) {
    const redis = cluster ? await startRedisCluster() : await startRedis();
    const mongo = await startFerretDb();
    services.push(redis, mongo);
    redisUrl = redis.url;
    mongoUrl = mongo.url;
  }
  const urls = { redis: redisUrl, cluster, mongo: mongoUrl };
  try {
    console.log(`machine: ${availableParallelism()} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}; ${EVENTS} events; Mongo at ${mongoUrl}`);
    const paced = await drain('latency 2000 ms, concurrency 200', urls, 2000, 200);
    const ideal = (EVENTS * 2) / 200;
    console.log(`| run | wall s | events/s | peak worker RSS MiB |`);
    console.log(`| --- | --- | --- | --- |`);
    console.log(`| ${paced.label} | ${paced.seconds.toFixed(1)} | ${paced.eventsPerSecond.toFixed(0)} | ${paced.peakRss.toFixed(0)} |`);
    const fast = await drain('latency 0 ms, concurrency 200', urls, 0, 200);
    console.log(`| ${fast.label} | ${fast.seconds.toFixed(1)} | ${fast.eventsPerSecond.toFixed(0)} | ${fast.peakRss.toFixed(0)} |`);
    console.log(`\npaced drain: ${paced.seconds.toFixed(1)} s against ideal ${ideal.toFixed(1)} s = ratio ${(paced.seconds / ideal).toFixed(2)} (target <= 1.15)`);
    console.log(`full worker path at latency 0: ${fast.eventsPerSecond.toFixed(0)} events/s (target >= 1000)`);
  } finally {
    await Promise.all(services.map((s) => s.stop()));
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
