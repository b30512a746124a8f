/**
 * `npm run bench:worker`: how fast the worker drains a backlog, on real Redis and the real
 * Mongo-wire server (FerretDB here unless MONGO_URL points at MongoDB).
 *
 *  1. BENCH_EVENTS (5000) queued events, routing latency 2 s, concurrency 200: wall time against
 *     the ideal events x latency / concurrency, as a ratio (target <= 1.15).
 *  2. The same number with routing latency 0: events/s through the full worker path
 *     (ledger claim, shipment state, routing, completion) (target >= 1000/s).
 *
 * The events are queued before the worker starts. The drain is timed on the Redis clock from the
 * worker's first job (the first `active` event in the queue's event stream, which Redis stamps)
 * to the moment the queue is seen empty, and again from the worker's spawn: no job can start
 * before the first, so neither time can beat the ideal. The start-up (spawn to first job: npm,
 * tsx, connections, indexes) is printed apart. Peak worker RSS and the CPU each process used
 * during the drain (worker, and the local Redis and Mongo-wire server) are read from /proc.
 * Figures, not assertions. With REDIS_CLUSTER=true it runs on a Redis Cluster (REDIS_URL's, or a
 * local three-node one) under a `{hash tag}` prefix.
 */
import { randomUUID } from 'node:crypto';
import { availableParallelism, totalmem } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, QueueEvents } from 'bullmq';
import { parseShipmentEvent, type QueuedEvent } from '../../lib/events/schema';
import { BACKOFF_STRATEGY, EVENTS_QUEUE, jobIdFor } from '../../lib/queue/names';
import { createRedis } from '../../lib/queue/redis';
import { startFerretDb, startRedis, startRedisCluster } from '../local-services';
import { cpuSecondsOf, procFilesOf, procFilesOfGroup } from './process-group';
import { sampleEvent } from '../sample-event';
import { runScript } from '../../test/support/processes';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 5000);

/** Peak RSS (MiB) over every process in the worker's process group. */
function groupRssMiB(pgid: number): number {
  const kb = procFilesOfGroup(pgid, 'status').map((status) => Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0));
  return Math.max(0, ...kb) / 1024;
}

/** The servers' process ids, when this script started them (their CPU is then reported). */
interface ServerPids {
  redis: number[];
  mongo: number[];
}

/** CPU seconds used so far by the worker's process group and each local server. */
function cpuNow(workerGroup: number, servers: ServerPids) {
  return {
    worker: cpuSecondsOf(procFilesOfGroup(workerGroup, 'stat')),
    redis: cpuSecondsOf(procFilesOf(servers.redis, 'stat')),
    mongo: cpuSecondsOf(procFilesOf(servers.mongo, 'stat')),
  };
}

/** Now on the Redis server's clock (ms), the clock that stamps the queue's events. */
async function redisNow(redis: ReturnType<typeof createRedis>): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Number(micros) / 1000;
}

async function drain(
  label: string,
  urls: { redis: string; cluster: boolean; mongo: string },
  servers: ServerPids,
  latencyMs: number,
  concurrency: number,
) {
  const id = `benchw_${randomUUID().slice(0, 8)}`;
  const prefix = urls.cluster ? `{${id}}` : id;
  const redis = createRedis({ redisUrl: urls.redis, redisCluster: urls.cluster }, 'worker');
  const queue = new Queue<QueuedEvent>(EVENTS_QUEUE, { connection: redis, prefix });
  const jobs = Array.from({ length: EVENTS }, (_, i) => {
    const parsed = parseShipmentEvent(
      sampleEvent({ eventId: `w-${i}-${randomUUID()}`, payload: { shipmentId: `S-${i}`, status: 'IN_TRANSIT' } }),
    );
    if (!parsed.ok) throw new Error('bad sample');
    const data: QueuedEvent = { event: parsed.event, correlationId: randomUUID(), receivedAt: new Date().toISOString() };
    return {
      name: parsed.event.eventType,
      data,
      opts: { jobId: jobIdFor(parsed.event.idempotencyKey), attempts: 5, backoff: { type: BACKOFF_STRATEGY }, removeOnComplete: true },
    };
  });
  for (let i = 0; i < jobs.length; i += 500) await queue.addBulk(jobs.slice(i, i + 500));
  // Listen for the first job taken from the stream's current end on, before the worker exists.
  const [last] = await redis.xrevrange(queue.keys.events!, '+', '-', 'COUNT', 1);
  const eventsClient = createRedis({ redisUrl: urls.redis, redisCluster: urls.cluster }, 'worker');
  const queueEvents = new QueueEvents(EVENTS_QUEUE, { connection: eventsClient, prefix, lastEventId: last?.[0] ?? '0-0' });
  let cpuAtFirstJob: ReturnType<typeof cpuNow> | undefined;
  const firstJob = new Promise<number>((resolve) =>
    queueEvents.once('active', (_job, id) => {
      cpuAtFirstJob = cpuNow(worker.child.pid!, servers);
      resolve(Number(id.split('-')[0]));
    }),
  );
  await queueEvents.waitUntilReady();
  const spawnedAt = await redisNow(redis);
  const worker = runScript('worker', {
    REDIS_URL: urls.redis,
    REDIS_CLUSTER: String(urls.cluster),
    MONGO_URL: urls.mongo,
    MONGO_DB: id,
    QUEUE_PREFIX: prefix,
    ROUTING_LATENCY_MS: String(latencyMs),
    WORKER_CONCURRENCY: String(concurrency),
    POWERTOOLS_LOG_LEVEL: 'WARN',
  });
  let peakRss = 0;
  let done: number | undefined;
  let cpuAtDone: ReturnType<typeof cpuNow> | undefined;
  try {
    for (;;) {
      if (worker.child.exitCode !== null) throw new Error(`worker exited:\n${worker.output().slice(-2000)}`);
      peakRss = Math.max(peakRss, groupRssMiB(worker.child.pid!));
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      if (Object.values(counts).reduce((a, b) => a + b, 0) === 0) {
        done = await redisNow(redis);
        cpuAtDone = cpuNow(worker.child.pid!, servers);
        break;
      }
      await sleep(100);
    }
  } finally {
    await worker.stop();
    await queueEvents.close();
    eventsClient.disconnect();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    redis.disconnect();
  }
  const firstJobAt = await firstJob;
  if (done === undefined) throw new Error('the queue never drained');
  const seconds = (done - firstJobAt) / 1000;
  const cores = (key: keyof ReturnType<typeof cpuNow>) => (cpuAtDone[key] - cpuAtFirstJob![key]) / seconds;
  return {
    label,
    startupSeconds: (firstJobAt - spawnedAt) / 1000,
    /** From the worker's first job to the queue seen empty. */
    seconds,
    /** From the worker's spawn to the queue seen empty. */
    fromSpawnSeconds: (done - spawnedAt) / 1000,
    eventsPerSecond: EVENTS / seconds,
    peakRss,
    cores: { worker: cores('worker'), redis: cores('redis'), mongo: cores('mongo') },
  };
}

async function main(): Promise<void> {
  const services: Array<{ stop(): Promise<void> }> = [];
  const cluster = process.env.REDIS_CLUSTER === 'true';
  let redisUrl = process.env.REDIS_URL;
  let mongoUrl = process.env.MONGO_URL;
  const servers: ServerPids = { redis: [], mongo: [] };
  if (!redisUrl || !mongoUrl) {
    const redis = cluster ? await startRedisCluster() : await startRedis();
    const mongo = await startFerretDb();
    services.push(redis, mongo);
    redisUrl = redis.url;
    mongoUrl = mongo.url;
    servers.redis = ('nodes' in redis ? redis.nodes : [redis]).map((node) => node.process.pid!);
    servers.mongo = [mongo.process.pid!];
  }
  const urls = { redis: redisUrl, cluster, mongo: mongoUrl };
  try {
    console.log(
      `machine: ${availableParallelism()} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}; ${EVENTS} events; Mongo at ${mongoUrl}`,
    );
    const paced = await drain('latency 2000 ms, concurrency 200', urls, servers, 2000, 200);
    const ideal = (EVENTS * 2) / 200;
    const fast = await drain('latency 0 ms, concurrency 200', urls, servers, 0, 200);
    const local = servers.redis.length > 0;
    console.log(
      `| run | start-up s (spawn to first job) | drain s from first job | from spawn s | events/s from first job | peak worker RSS MiB | CPU cores in the drain: worker / Redis / Mongo-wire |`,
    );
    console.log(`| --- | --- | --- | --- | --- | --- | --- |`);
    for (const run of [paced, fast]) {
      const cpu = `${run.cores.worker.toFixed(2)} / ${local ? run.cores.redis.toFixed(2) : '-'} / ${local ? run.cores.mongo.toFixed(2) : '-'}`;
      console.log(
        `| ${run.label} | ${run.startupSeconds.toFixed(1)} | ${run.seconds.toFixed(1)} | ${run.fromSpawnSeconds.toFixed(1)} | ${run.eventsPerSecond.toFixed(0)} | ${run.peakRss.toFixed(0)} | ${cpu} |`,
      );
    }
    console.log(`\npaced drain, ideal ${EVENTS} x 2 s / 200 = ${ideal.toFixed(1)} s (no drain can be shorter):`);
    console.log(
      `  from the worker's first job: ${paced.seconds.toFixed(1)} s, ratio ${(paced.seconds / ideal).toFixed(3)} (target <= 1.15)`,
    );
    console.log(
      `  from its spawn:              ${paced.fromSpawnSeconds.toFixed(1)} s, ratio ${(paced.fromSpawnSeconds / ideal).toFixed(3)} (start-up ${paced.startupSeconds.toFixed(1)} s included)`,
    );
    console.log(`full worker path at latency 0: ${fast.eventsPerSecond.toFixed(0)} events/s from the first job (target >= 1000)`);
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
