/**
 * `npm run bench:enqueue`: what the door's enqueue costs, against BullMQ's bare `queue.add` of
 * the same job as the baseline, in one run on a real Redis.
 *
 * `BullEventQueue.enqueue` is the ingest handler's one Redis step: the job, plus whatever else it
 * writes for duplicate detection and the status endpoint's index. Each is timed one call at a
 * time (the round trip a request waits for) and with BENCH_IN_FLIGHT (64) calls in flight (wall
 * and this process's CPU per event, as under load), over BENCH_ENQUEUES (20000) unique events,
 * twice in alternation so a drift of the shared machine shows. Figures, not assertions.
 * It also counts round trips: the server's read events (`total_reads_processed` in INFO stats)
 * per call, one call at a time; the client pipelines the commands a call issues in one tick
 * (`enableAutoPipelining`), so a call that costs one read event reached Redis in one round trip.
 * REDIS_URL points it at a Redis of your own (a fresh key prefix is used and removed).
 */
import { randomUUID } from 'node:crypto';
import { availableParallelism, totalmem } from 'node:os';
import { parseShipmentEvent, type QueuedEvent } from '../../lib/events/schema';
import { BullEventQueue, KEEP_COMPLETED } from '../../lib/queue/event-queue';
import { BACKOFF_STRATEGY, jobIdFor } from '../../lib/queue/names';
import { createRedis } from '../../lib/queue/redis';
import { startRedis } from '../local-services';
import { sampleEvent } from '../sample-event';

const EVENTS = Number(process.env.BENCH_ENQUEUES ?? 20_000);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 64);
const ATTEMPTS = 5;

function item(): QueuedEvent {
  const parsed = parseShipmentEvent(sampleEvent({ eventId: `enq-${randomUUID()}` }));
  if (!parsed.ok) throw new Error('bad sample');
  return { event: parsed.event, correlationId: randomUUID(), receivedAt: new Date().toISOString() };
}

interface Timing {
  /** Wall µs per call, one call at a time. */
  sequential: number;
  /** Wall µs per event with IN_FLIGHT calls in flight. */
  concurrent: number;
  /** This process's CPU µs per event with IN_FLIGHT calls in flight. */
  cpu: number;
}

/** Times `call` over fresh events, one at a time and then IN_FLIGHT at a time. */
async function time(call: (item: QueuedEvent) => Promise<unknown>): Promise<Timing> {
  const sequentialItems = Array.from({ length: Math.min(EVENTS, 5000) }, item);
  let started = performance.now();
  for (const one of sequentialItems) await call(one);
  const sequential = ((performance.now() - started) * 1000) / sequentialItems.length;

  const items = Array.from({ length: EVENTS }, item);
  let next = 0;
  started = performance.now();
  const cpuBefore = process.cpuUsage();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < items.length) await call(items[next++]!);
    }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  return { sequential, concurrent: ((performance.now() - started) * 1000) / items.length, cpu: (cpu.user + cpu.system) / items.length };
}

/** Server read events per call, one call at a time (another client reads the counter). */
async function roundTrips(
  probe: ReturnType<typeof createRedis>,
  call: (item: QueuedEvent) => Promise<unknown>,
  calls = 500,
): Promise<number> {
  const reads = async () => Number(/total_reads_processed:(\d+)/.exec(await probe.info('stats'))?.[1] ?? NaN);
  const items = Array.from({ length: calls }, item);
  const before = await reads();
  for (const one of items) await call(one);
  // The probe's own INFO is one read event too.
  return ((await reads()) - before - 1) / calls;
}

async function main(): Promise<void> {
  const local = process.env.REDIS_URL ? undefined : await startRedis();
  const redisUrl = process.env.REDIS_URL ?? local!.url;
  const prefix = `benchq_${randomUUID().slice(0, 8)}`;
  // The ingest edge's client: a producer (auto-pipelined, fast failure).
  const redis = createRedis({ redisUrl, redisCluster: false }, 'producer');
  const door = new BullEventQueue({ connection: redis, prefix, attempts: ATTEMPTS });
  // The same job as the door adds, with nothing else.
  const jobOptions = {
    attempts: ATTEMPTS,
    backoff: { type: BACKOFF_STRATEGY },
    removeOnComplete: KEEP_COMPLETED,
    removeOnFail: { age: 7 * 24 * 3600 },
  };
  const bareAdd = (one: QueuedEvent) =>
    door.queue.add(one.event.eventType, one, { ...jobOptions, jobId: jobIdFor(one.event.idempotencyKey) });
  const enqueue = (one: QueuedEvent) => door.enqueue(one);
  try {
    console.log(
      `machine: ${availableParallelism()} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}; ${EVENTS} events per run, ${IN_FLIGHT} in flight`,
    );
    await time(bareAdd); // warm-up: connections, Lua scripts loaded, JIT
    await time(enqueue);
    const rows: Array<[string, Timing]> = [];
    for (let round = 1; round <= 2; round++) {
      rows.push([`baseline: queue.add (round ${round})`, await time(bareAdd)]);
      rows.push([`BullEventQueue.enqueue (round ${round})`, await time(enqueue)]);
    }
    console.log('| call | µs per call, one at a time | wall µs per event, in flight | CPU µs per event, in flight |');
    console.log('| --- | --- | --- | --- |');
    for (const [label, t] of rows)
      console.log(`| ${label} | ${t.sequential.toFixed(0)} | ${t.concurrent.toFixed(1)} | ${t.cpu.toFixed(1)} |`);
    const probe = createRedis({ redisUrl, redisCluster: false }, 'worker');
    console.log(
      `round trips per call (server read events, one call at a time): queue.add ${(await roundTrips(probe, bareAdd)).toFixed(2)}, enqueue ${(await roundTrips(probe, enqueue)).toFixed(2)}`,
    );
    probe.disconnect();
    const mean = (pick: (t: Timing) => number, ofEnqueue: boolean) =>
      rows.filter(([label]) => label.startsWith('BullEventQueue') === ofEnqueue).reduce((sum, [, t]) => sum + pick(t), 0) / 2;
    for (const [what, pick] of [
      ['one at a time', (t: Timing) => t.sequential],
      ['CPU in flight', (t: Timing) => t.cpu],
    ] as const) {
      const base = mean(pick, false);
      const ours = mean(pick, true);
      console.log(
        `enqueue vs bare add, ${what}: ${ours.toFixed(1)} µs against ${base.toFixed(1)} µs, ratio ${(ours / base).toFixed(2)}, ${(ours - base).toFixed(1)} µs more`,
      );
    }
  } finally {
    await door.queue.obliterate({ force: true }).catch(() => undefined);
    const keys = await redis.keys(`${prefix}:*`);
    for (let i = 0; i < keys.length; i += 1000) await redis.unlink(...keys.slice(i, i + 1000));
    await door.close();
    redis.disconnect();
    await local?.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
