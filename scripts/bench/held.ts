/**
 * `npm run bench:held`: what an event held by a pause costs in Redis, and in the worker.
 *
 *   npm run bench:held -- [--events 1000,5000] [--seconds 30]
 *
 * Starts redis-server (AOF, as scripts/local-services.ts runs it), FerretDB and `npm run worker`
 * at its defaults, pauses one source, then for each count queues that many events of the paused
 * source (as ingest queues them) and, once every one is held, measures for `--seconds`: the
 * memory Redis uses for them (INFO used_memory against before they were queued), the commands
 * Redis runs per second and its CPU (INFO commandstats, used_cpu_*), and the worker's CPU (from
 * /proc). A held event is a delayed BullMQ job the worker takes up again every HOLD_MS, finds
 * paused and delays again, plus a member of the pause's held set. The same with no pause and no
 * event is the baseline, measured first in the same run. Figures, not assertions.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { parseShipmentEvent } from '../../lib/events/schema';
import { HOLD_MS, PauseStore } from '../../lib/ops/pauses';
import { BullEventQueue } from '../../lib/queue/event-queue';
import { createRedis } from '../../lib/queue/redis';
import { runScript } from '../../test/support/processes';
import { startFerretDb, startRedis } from '../local-services';
import { sampleEvent } from '../sample-event';
import { cpuSecondsOf, procFilesOf, processTree } from './process-group';

const { values: args } = parseArgs({
  options: { events: { type: 'string', default: '1000,5000' }, seconds: { type: 'string', default: '30' } },
});
const COUNTS = args.events.split(',').map(Number);
const SECONDS = Number(args.seconds);
const PREFIX = 'gateway';
const SOURCE = 'held-bench';

/** The INFO fields this reads, as numbers. */
function infoFields(info: string): Map<string, number> {
  const fields = new Map<string, number>();
  for (const line of info.split('\r\n')) {
    const [name, value] = line.split(':');
    if (name && value !== undefined && !Number.isNaN(Number(value))) fields.set(name, Number(value));
    // commandstats lines: cmdstat_evalsha:calls=12,usec=...
    const calls = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (calls) fields.set(`calls:${calls[1]}`, Number(calls[2]));
  }
  return fields;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-bench-held-'));
  mkdirSync(join(dir, 'redis'));
  mkdirSync(join(dir, 'ferretdb'));
  const redisServer = await startRedis({ dataDir: join(dir, 'redis') });
  const mongo = await startFerretDb({ dataDir: join(dir, 'ferretdb') });
  const redis = createRedis({ redisUrl: redisServer.url, redisCluster: false }, 'producer');
  const worker = runScript('worker', { REDIS_URL: redisServer.url, MONGO_URL: mongo.url, METRICS_PORT: '0' });
  try {
    for (let i = 0; !worker.output().includes('worker started'); i++) {
      if (worker.child.exitCode !== null || i > 480) throw new Error(`worker did not start:\n${worker.output().slice(-2000)}`);
      await sleep(250);
    }
    const workerPids = () => processTree(worker.child.pid!);
    const measure = async () => {
      const [before, cpuBefore] = [infoFields(await redis.info('all')), cpuSecondsOf(procFilesOf(workerPids(), 'stat'))];
      await sleep(SECONDS * 1000);
      const [after, cpuAfter] = [infoFields(await redis.info('all')), cpuSecondsOf(procFilesOf(workerPids(), 'stat'))];
      const delta = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
      const calls = [...after.keys()]
        .filter((key) => key.startsWith('calls:'))
        .map((key) => [key.slice(6), delta(key) / SECONDS] as const)
        .filter(([, perSecond]) => perSecond >= 0.1)
        .sort((a, b) => b[1] - a[1]);
      return {
        commandsPerSecond: delta('total_commands_processed') / SECONDS,
        redisCpuMsPerSecond: ((delta('used_cpu_sys') + delta('used_cpu_user')) * 1000) / SECONDS,
        workerCpuMsPerSecond: ((cpuAfter - cpuBefore) * 1000) / SECONDS,
        usedMemory: after.get('used_memory') ?? 0,
        calls,
      };
    };

    console.log(`# bench:held, ${new Date().toISOString()}`);
    console.log();
    console.log(
      `Machine: ${availableParallelism()} cores (${cpus()[0]?.model ?? 'cpu'}), Node ${process.version}; load average at the start ${loadavg()
        .map((n) => n.toFixed(2))
        .join(
          ', ',
        )}. redis-server with AOF, FerretDB, \`npm run worker\` at its defaults (concurrency 50, INFO logs). Held events are taken up again every ${HOLD_MS / 1000} s. ${SECONDS} s per measurement.`,
    );
    console.log();
    console.log(
      '| held events | Redis memory over the idle queue | per held event | Redis commands/s | Redis CPU ms/s | worker CPU ms/s | busiest commands /s |',
    );
    console.log('| --- | --- | --- | --- | --- | --- | --- |');
    const idle = await measure();
    const row = (held: number, figures: Awaited<ReturnType<typeof measure>>) =>
      console.log(
        `| ${held} | ${((figures.usedMemory - idle.usedMemory) / 1024).toFixed(0)} KiB | ${held ? ((figures.usedMemory - idle.usedMemory) / held).toFixed(0) + ' B' : '-'} | ${figures.commandsPerSecond.toFixed(0)} | ${figures.redisCpuMsPerSecond.toFixed(1)} | ${figures.workerCpuMsPerSecond.toFixed(1)} | ${figures.calls
          .slice(0, 4)
          .map(([name, perSecond]) => `${name} ${perSecond.toFixed(0)}`)
          .join(', ')} |`,
      );
    row(0, idle);

    const pauses = new PauseStore(redis, PREFIX);
    const queue = new BullEventQueue({ connection: redis, prefix: PREFIX, attempts: 8 });
    await pauses.pause(SOURCE, { by: null, reason: 'bench:held' });
    let queued = 0;
    for (const count of COUNTS) {
      for (; queued < count; queued++) {
        const parsed = parseShipmentEvent(sampleEvent({ source: SOURCE }));
        if (!parsed.ok) throw new Error('sample event did not parse');
        await queue.enqueue({ event: parsed.event, correlationId: `held-${queued}`, receivedAt: new Date().toISOString() });
      }
      // Every one taken up once and found paused: all in the held set.
      for (let i = 0; (await redis.zcard(`${PREFIX}:held:${SOURCE}`)) < count; i++) {
        if (i > 600) throw new Error(`only ${await redis.zcard(`${PREFIX}:held:${SOURCE}`)} of ${count} events held after 5 min`);
        await sleep(500);
      }
      await sleep(HOLD_MS);
      row(count, await measure());
    }
    await pauses.resume(SOURCE);
  } finally {
    await worker.stop();
    redis.disconnect();
    await Promise.all([redisServer.stop(), mongo.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
