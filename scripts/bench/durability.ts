/**
 * `npm run bench:durability`: what a stronger Redis durability setting costs the door, in one run.
 *
 * The same door, `npm run offline` with every default on a pseudo-terminal (as bench:ingest
 * runs it), twice: against a Redis with `appendfsync everysec` (how the gateway runs it) and
 * against one with `appendfsync always` (an fsync of the AOF before every reply). Both emulators
 * run side by side and take turns, each phase BENCH_ROUNDS (3) times, so a drift of the shared machine shows up
 * in both columns rather than in the ratio:
 *
 *  (a) closed loop: autocannon, BENCH_CONNECTIONS (100) connections, BENCH_SECONDS (20) s;
 *  (b) open loop: BENCH_OPEN_RATE (300) requests/s for BENCH_DURABILITY_OPEN_SECONDS (20) s,
 *      each latency from the moment the request was due.
 *
 * Then a scratch measurement, outside the product's path, of a replica acknowledged with WAIT:
 *
 *  (c) the enqueue alone (the door's BullEventQueue.enqueue, in-process, no emulator), one call
 *      at a time and BENCH_WAIT_IN_FLIGHT (64) at once, against the everysec Redis alone, the
 *      always Redis, and the everysec Redis followed by `WAIT 1 1000` with a second local
 *      redis-server as its replica: what one round trip to a replica per acknowledged write adds.
 *
 * Figures, not assertions: the machine is shared.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { parseShipmentEvent } from '../../lib/events/schema';
import { BullEventQueue } from '../../lib/queue/event-queue';
import { EVENTS_QUEUE } from '../../lib/queue/names';
import { createRedis } from '../../lib/queue/redis';
import { freePort, startFerretDb, startRedis, type RunningService } from '../local-services';
import { quantile } from '../load-test/open-loop';
import { sampleEvent } from '../sample-event';
import { closedLoop, CONNECTIONS, openLoop, SECONDS, type Emulator, type Figures, startEmulator } from './emulator';

const OPEN_SECONDS = Number(process.env.BENCH_DURABILITY_OPEN_SECONDS ?? 20);
const OPEN_RATE = Number(process.env.BENCH_OPEN_RATE ?? 300);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const ENQUEUES = Number(process.env.BENCH_WAIT_EVENTS ?? 3000);
const IN_FLIGHT = Number(process.env.BENCH_WAIT_IN_FLIGHT ?? 64);

type Fsync = 'everysec' | 'always';
const SETTINGS: readonly Fsync[] = ['everysec', 'always'];

interface OpenFigures {
  p50: number;
  p99: number;
  max: number;
  non2xx: number;
}

/** The median of the rounds: one round disturbed by the shared machine does not move it. */
const median = (values: number[]) =>
  quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
const ratio = (a: number, b: number) => (b === 0 ? 'n/a' : (a / b).toFixed(2));

/** A second redis-server replicating `primaryPort`, with the same AOF settings; resolves once the primary sees it online. */
async function startReplica(primary: Redis, primaryPort: number): Promise<{ stop(): Promise<void> }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bench-redis-replica-'));
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec'],
    { stdio: 'ignore' },
  );
  const stop = async () => {
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(5000)]);
    rmSync(dir, { recursive: true, force: true });
  };
  // Attached from here, so a start that fails is stopped too.
  for (let i = 0; ; i++) {
    if (child.exitCode !== null || i > 200) {
      await stop();
      throw new Error('the replica did not start');
    }
    const replica = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    replica.on('error', () => undefined); // not listening yet: the next pass tries again
    const up = await replica.connect().then(
      () => true,
      () => false,
    );
    if (up) {
      await replica.replicaof('127.0.0.1', primaryPort);
      replica.disconnect();
      break;
    }
    await sleep(100);
  }
  for (let i = 0; !/slave0:.*state=online/.test(await primary.info('replication')); i++) {
    if (i > 200) {
      await stop();
      throw new Error('the replica did not come online');
    }
    await sleep(100);
  }
  return { stop };
}

/** (c): `ENQUEUES` enqueues, `inFlight` at a time; with `wait`, each is followed by WAIT 1 on the same connection. */
async function enqueueRun(redisUrl: string, inFlight: number, wait: boolean) {
  const connection = createRedis({ redisUrl, redisCluster: false }, 'producer');
  const queue = new BullEventQueue({ connection, prefix: `durability_${Date.now()}`, attempts: 5 });
  const latencies: number[] = [];
  let next = 0;
  let unacknowledged = 0;
  const one = async () => {
    const parsed = parseShipmentEvent(sampleEvent());
    if (!parsed.ok) throw new Error('the sample event does not parse');
    const started = performance.now();
    await queue.enqueue({ event: parsed.event, correlationId: 'bench', receivedAt: new Date().toISOString() });
    if (wait && (await connection.wait(1, 1000)) < 1) unacknowledged++;
    latencies.push(performance.now() - started);
  };
  for (let i = 0; i < 200; i++) await one(); // warm-up
  latencies.length = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next++ < ENQUEUES) await one();
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await queue.queue.obliterate({ force: true });
  await queue.close();
  connection.disconnect();
  latencies.sort((a, b) => a - b);
  return { perSecond: ENQUEUES / seconds, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), unacknowledged };
}

async function main(): Promise<void> {
  const services: RunningService[] = [];
  const emulators: Emulator[] = [];
  let replica: { stop(): Promise<void> } | undefined;
  try {
    console.log(
      `machine: ${availableParallelism()} cores (${cpus()[0]?.model ?? 'cpu'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}; Redis data in ${tmpdir()}; load average ${loadavg()[0]!.toFixed(1)}`,
    );
    console.log('emulator: `npm run offline` on a pseudo-terminal, default settings (function logs INFO, framework log level warning)');
    console.log(
      `closed loop: ${CONNECTIONS} connections, ${SECONDS} s; open loop: ${OPEN_RATE}/s for ${OPEN_SECONDS} s; ${ROUNDS} rounds, the settings taking turns\n`,
    );
    const mongo = await startFerretDb();
    services.push(mongo);
    const redis: Record<Fsync, RunningService> = {
      everysec: await startRedis({ appendfsync: 'everysec' }),
      always: await startRedis({ appendfsync: 'always' }),
    };
    services.push(redis.everysec, redis.always);
    const id = `durability_${Date.now()}`;
    const started = await Promise.all(
      SETTINGS.map((fsync) =>
        startEmulator({ REDIS_URL: redis[fsync].url, MONGO_URL: mongo.url, MONGO_DB: id, QUEUE_PREFIX: `${id}_${fsync}` }),
      ),
    );
    emulators.push(...started);
    const door = { everysec: started[0]!, always: started[1]! };
    // No worker runs: each phase starts from an empty queue, so neither Redis grows towards MAX_BACKLOG (a 429).
    const queues = Object.fromEntries(
      SETTINGS.map((fsync) => [fsync, new Queue(EVENTS_QUEUE, { connection: { url: redis[fsync].url }, prefix: `${id}_${fsync}` })]),
    ) as Record<Fsync, Queue>;
    const empty = () => Promise.all(SETTINGS.map((fsync) => queues[fsync].obliterate({ force: true })));

    const closed: Record<Fsync, Figures[]> = { everysec: [], always: [] };
    const open: Record<Fsync, OpenFigures[]> = { everysec: [], always: [] };
    for (const fsync of SETTINGS) {
      await closedLoop('warm-up', `${door[fsync].base}/v1/events`, door[fsync], 3);
      await openLoop(`${door[fsync].base}/v1/events`, OPEN_RATE, 3);
    }
    for (let round = 0; round < ROUNDS; round++) {
      await empty();
      for (const fsync of SETTINGS)
        closed[fsync].push(await closedLoop(`${fsync} #${round + 1}`, `${door[fsync].base}/v1/events`, door[fsync]));
      await empty();
      for (const fsync of SETTINGS) {
        const figures = await openLoop(`${door[fsync].base}/v1/events`, OPEN_RATE, OPEN_SECONDS);
        door[fsync].takeOutput();
        open[fsync].push(figures);
      }
    }
    await Promise.all(emulators.splice(0).map((e) => e.stop()));
    await empty();
    await Promise.all(SETTINGS.map((fsync) => queues[fsync].close()));

    console.log('| appendfsync | run | closed loop req/s | p50 ms | p99 ms | non-2xx | open loop p50 ms | p99 ms | max ms | non-2xx |');
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const fsync of SETTINGS) {
      for (let round = 0; round < ROUNDS; round++) {
        const c = closed[fsync][round]!;
        const o = open[fsync][round]!;
        console.log(
          `| ${fsync} | ${round + 1} | ${c.requestsPerSecond.toFixed(0)} | ${c.p50} | ${c.p99} | ${c.non2xx + c.errors} | ${o.p50.toFixed(1)} | ${o.p99.toFixed(1)} | ${o.max.toFixed(1)} | ${o.non2xx} |`,
        );
      }
    }
    const rps = (f: Fsync) => median(closed[f].map((c) => c.requestsPerSecond));
    const p99 = (f: Fsync) => median(closed[f].map((c) => c.p99));
    const openP99 = (f: Fsync) => median(open[f].map((o) => o.p99));
    console.log(
      `\nalways / everysec, medians of ${ROUNDS} rounds: closed-loop throughput ${ratio(rps('always'), rps('everysec'))}, closed-loop p99 ${ratio(p99('always'), p99('everysec'))}, open-loop p99 ${ratio(openP99('always'), openP99('everysec'))}`,
    );

    // (c) the scratch measurement: the enqueue alone, and with a replica acknowledged by WAIT.
    const primary = new Redis(redis.everysec.url);
    replica = await startReplica(primary, redis.everysec.port);
    primary.disconnect();
    console.log(
      `\n(c) enqueue in-process, ${ENQUEUES} events per run (the door's three writes in one round trip), then WAIT 1 1000 where named:`,
    );
    console.log('| Redis | in flight | enqueues/s | p50 ms | p99 ms | WAIT not acknowledged |');
    console.log('| --- | --- | --- | --- | --- | --- |');
    for (const inFlight of [1, IN_FLIGHT]) {
      const runs: Array<[string, string, boolean]> = [
        ['everysec (with a replica, no WAIT)', redis.everysec.url, false],
        ['always', redis.always.url, false],
        ['everysec + WAIT 1 (local replica)', redis.everysec.url, true],
      ];
      const results = [];
      for (const [label, url, wait] of runs) {
        const r = await enqueueRun(url, inFlight, wait);
        results.push(r);
        console.log(
          `| ${label} | ${inFlight} | ${r.perSecond.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${wait ? r.unacknowledged : '-'} |`,
        );
      }
      const [base, always, waited] = results as [(typeof results)[0], (typeof results)[0], (typeof results)[0]];
      console.log(
        `|   ratios to everysec, ${inFlight} in flight | | always ${ratio(always.perSecond, base.perSecond)}, WAIT ${ratio(waited.perSecond, base.perSecond)} | always ${ratio(always.p50, base.p50)}, WAIT ${ratio(waited.p50, base.p50)} | | |`,
      );
    }
  } finally {
    await Promise.all(emulators.map((e) => e.stop()));
    await replica?.stop();
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
