/**
 * `npm run load-test`: load a running gateway, then prove nothing was lost or applied twice.
 *
 *   npm run load-test -- [--url http://localhost:3000] [--requests 1000 | --duration 30]
 *     [--connections 100] [--rate 0 (open-loop requests/s; 0 = closed loop)] [--duplicates 0.1]
 *     [--failure-rate 0.2] [--drain-timeout 900] [--report docs/load-test-report.md]
 *     [--cold-load-generator] [--json FILE (the door's figures and the verdict, for scripts)]
 *   npm run load-test:burst   # 20,000 events as fast as the gateway takes them, then the drain
 *
 * Every request is a validly signed event; a share are re-sends of earlier ones (duplicates).
 * The routing failure rate is set on the running workers through their run-time settings
 * (Redis hash `<QUEUE_PREFIX>:settings`) and cleared afterwards, so retries really happen.
 * After the load it waits for the pipeline to drain and reconciles from Mongo and the queues
 * (load-test/reconcile.ts): nothing lost, and no event applied more than once, counted from the
 * shipment store's version records rather than the ledger; it exits 1 when any promise fails.
 * With `--rate` the load is an open loop timed by this script (load-test/open-loop.ts). It reads
 * the gateway's own environment: WEBHOOK_SECRETS (signs with the first), REDIS_URL,
 * REDIS_CLUSTER, MONGO_URL, MONGO_DB, QUEUE_PREFIX.
 * Before it sends the gateway anything, it runs the same load three times against a server in its
 * own process, so that its own code is compiled and the figures are the gateway's
 * (`--cold-load-generator` leaves that out, to see the difference).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { MongoClient } from 'mongodb';
import { connectionConfig } from '../lib/config';
import { defaultIdempotencyKey } from '../lib/events/schema';
import { EVENTS_QUEUE, jobIdFor } from '../lib/queue/names';
import { createRedis, type RedisClient } from '../lib/queue/redis';
import { ROUTING_FAILURE_RATE_FIELD, settingsKey } from '../lib/routing/runtime-settings';
import { readApplications } from '../lib/shipments/applications';
import { Collections } from '../lib/store/mongo';
import { loadDoor, warmLoadGenerator, type DoorFigures, type DoorLoadOptions } from './load-test/door-load';
import { reconcileRun, runChecks, untouchedEvents, type LedgerRecord, type RunReconciliation } from './load-test/reconcile';
import { sampleEvent, signedHeaders } from './sample-event';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://localhost:3000' },
    requests: { type: 'string', default: '1000' },
    duration: { type: 'string' },
    connections: { type: 'string', default: '100' },
    rate: { type: 'string', default: '0' },
    duplicates: { type: 'string', default: '0.1' },
    'failure-rate': { type: 'string', default: '0.2' },
    'drain-timeout': { type: 'string', default: '900' },
    report: { type: 'string', default: 'docs/load-test-report.md' },
    burst: { type: 'boolean', default: false },
    'cold-load-generator': { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});

const burst = args.burst;
const requests = burst ? Math.max(20_000, Number(args.requests)) : Number(args.requests);
const duration = args.duration ? Number(args.duration) : undefined;
const connections = Number(args.connections);
const rate = Number(args.rate);
const duplicateShare = Number(args.duplicates);
const failureRate = Number(args['failure-rate']);
const drainTimeoutMs = Number(args['drain-timeout']) * 1000;
const secret = (process.env.WEBHOOK_SECRETS ?? 'dev-secret-change-me').split(',')[0]!.trim();
const runId = randomUUID().slice(0, 8);

/** The load's shape, whichever server it goes to. */
const doorShape: Omit<DoorLoadOptions, 'url' | 'next' | 'onReply'> = {
  connections,
  requests,
  ...(duration ? { duration } : {}),
  rate,
  sign: (body) => signedHeaders(secret, body),
};

/** The body of one of this run's shipment events (signed when it is sent). */
function eventBody(eventId: string, shipmentId: string): string {
  return JSON.stringify(
    sampleEvent({ eventId, source: 'loadtest', occurredAt: new Date().toISOString(), payload: { shipmentId, status: 'IN_TRANSIT' } }),
  );
}

interface Sample {
  at: number;
  waiting: number;
  active: number;
  delayed: number;
  /** Read every sample on small runs, every sixth on a burst. */
  settled?: number;
}

async function main(): Promise<number> {
  const connection = connectionConfig();
  const redis = createRedis(connection, 'worker');
  const queue = new Queue(EVENTS_QUEUE, { connection: redis, prefix: connection.queuePrefix });
  const mongo = await MongoClient.connect(connection.mongoUrl, { serverSelectionTimeoutMS: 5000 });
  const db = mongo.db(connection.mongoDb);

  // --- the load ---------------------------------------------------------------------------
  const bodies: Array<{ eventId: string; body: string }> = [];
  const accepted = new Set<string>();
  let duplicatesSent = 0;
  let duplicatesFlagged = 0;
  let replies202 = 0;
  let issued = 0;
  // The load generator's own code compiled first, against a server in this process: the gateway sees none of it.
  const warmedGenerator = !args['cold-load-generator'];
  if (warmedGenerator) {
    let n = 0;
    await warmLoadGenerator((base) =>
      loadDoor({
        ...doorShape,
        url: `${base}/v1/events`,
        requests: Math.min(requests, 1000),
        duration: undefined,
        next: () => {
          const eventId = `warm-${runId}-${n++}`;
          return { eventId, body: eventBody(eventId, `WARM-${n % 250}`) };
        },
        onReply: () => undefined,
      }),
    );
  }

  await redis.hset(settingsKey(connection.queuePrefix), ROUTING_FAILURE_RATE_FIELD, String(failureRate));
  const samples: Sample[] = [];
  const started = Date.now();
  let sampling = true;
  // The queue depth is cheap to read every few seconds. The settled count reads the run's ledger
  // entries, which FerretDB answers by reading the whole collection: it is read only once the
  // load is over (so it never takes CPU from the door being measured), and less often on a burst.
  let loading = true;
  const sampler = (async () => {
    for (let n = 0; sampling; n++) {
      samples.push(await sample(queue, db, started, !loading && n % (burst ? 6 : 1) === 0));
      await sleep(burst ? 5000 : 2000);
    }
  })();

  // A first wave of one event per connection, so the emulator's cold starts (one per concurrent
  // function instance) and the Redis connections are not in the figures. These events count.
  await Promise.all(
    Array.from({ length: connections }, async () => {
      const eventId = `lt-${runId}-${bodies.length}`;
      const body = JSON.stringify(
        sampleEvent({ eventId, source: 'loadtest', payload: { shipmentId: `LT-${runId}-S${bodies.length % 250}`, status: 'IN_TRANSIT' } }),
      );
      bodies.push({ eventId, body });
      issued++;
      const warm = await fetch(`${args.url}/v1/events`, { method: 'POST', headers: signedHeaders(secret, body), body });
      if (warm.status !== 202) throw new Error(`the gateway refused a warm-up event: ${warm.status} ${await warm.text()}`);
      replies202++;
      accepted.add(eventId);
    }),
  );
  const warmUpRequests = connections;

  const door = await loadDoor({
    ...doorShape,
    url: `${args.url}/v1/events`,
    // A duplicate re-sends an event already issued, with a fresh signature.
    next: () => {
      issued++;
      if (bodies.length > 0 && Math.random() < duplicateShare) {
        duplicatesSent++;
        return bodies[Math.floor(Math.random() * bodies.length)]!;
      }
      const eventId = `lt-${runId}-${bodies.length}`;
      const body = eventBody(eventId, `LT-${runId}-S${bodies.length % 250}`);
      bodies.push({ eventId, body });
      return { eventId, body };
    },
    onReply: (eventId, status, body) => {
      if (status !== 202) return;
      replies202++;
      accepted.add(eventId);
      if (body.includes('"duplicate":true')) duplicatesFlagged++;
    },
  });
  const loadEnded = Date.now();
  loading = false;

  // --- the drain --------------------------------------------------------------------------
  const expected = [...accepted];
  let settledAt = 0;
  while (Date.now() - loadEnded < drainTimeoutMs) {
    // Nothing settles for good while jobs remain: the ledger is read once the queue is empty.
    if ((await pendingJobs(queue)) === 0) {
      const counts = await terminalCounts(db);
      if (counts.routed + counts.deadLettered >= expected.length) {
        settledAt = Date.now();
        break;
      }
    }
    await sleep(1000);
  }
  sampling = false;
  await sampler;
  samples.push(await sample(queue, db, started, true));
  await redis.hdel(settingsKey(connection.queuePrefix), ROUTING_FAILURE_RATE_FIELD);

  // --- reconciliation -----------------------------------------------------------------------
  const recon = await reconcile(db, redis, connection.queuePrefix, expected, `LT-${runId}-`);
  const checks = runChecks(recon, { non2xx: door.non2xx, duplicatesSent, replies202, duplicatesFlagged }, failureRate);
  const passed = checks.every(([, ok]) => ok);

  const report = renderReport({
    door,
    issued,
    warmUpRequests,
    warmedGenerator,
    duplicatesSent,
    duplicatesFlagged,
    replies202,
    recon,
    checks,
    passed,
    loadSeconds: (loadEnded - started) / 1000,
    drainSeconds: settledAt ? (settledAt - loadEnded) / 1000 : undefined,
    samples,
    versions: await serverVersions(redis, db),
  });
  mkdirSync(dirname(args.report), { recursive: true });
  writeFileSync(args.report, report);
  console.log(report);
  console.log(`${passed ? 'PASS' : 'FAIL'}: report written to ${args.report}`);
  if (args.json) {
    mkdirSync(dirname(args.json), { recursive: true });
    writeFileSync(args.json, `${JSON.stringify({ passed, door, checks: checks.map(([check, ok]) => ({ check, ok })) }, null, 2)}\n`);
  }

  await queue.close();
  redis.disconnect();
  await mongo.close();
  return passed ? 0 : 1;
}

async function sample(queue: Queue, db: ReturnType<MongoClient['db']>, started: number, withSettled: boolean): Promise<Sample> {
  const [counts, terminal] = await Promise.all([
    queue.getJobCounts('waiting', 'active', 'delayed'),
    withSettled ? terminalCounts(db) : undefined,
  ]);
  return {
    at: (Date.now() - started) / 1000,
    waiting: counts.waiting ?? 0,
    active: counts.active ?? 0,
    delayed: counts.delayed ?? 0,
    ...(terminal ? { settled: terminal.routed + terminal.deadLettered } : {}),
  };
}

/** Jobs still to be processed (or retried), from Redis. */
async function pendingJobs(queue: Queue): Promise<number> {
  const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
  return Object.values(counts).reduce((sum, n) => sum + n, 0);
}

/**
 * This run's documents, selected by the run's event id prefix: an anchored pattern the eventId
 * index answers on MongoDB, and a cheap test per document on FerretDB (a `$in` over every event
 * id of a 20,000-event run would cost the server far more than the run itself).
 */
const thisRun = { eventId: { $regex: `^lt-${runId}-` } };

/** Settled events of this run, by status: the drain's progress. */
async function terminalCounts(db: ReturnType<MongoClient['db']>) {
  const groups = await db
    .collection(Collections.ledger)
    .aggregate<{ _id: string; n: number }>([{ $match: thisRun }, { $group: { _id: '$status', n: { $sum: 1 } } }])
    .toArray();
  const by = Object.fromEntries(groups.map((g) => [g._id, g.n]));
  return { routed: by.ROUTED ?? 0, deadLettered: by.DEAD_LETTERED ?? 0 };
}

/** Reads what the reconciliation needs from Mongo and Redis: the run's ledger, applications, dead letters and still-queued jobs. */
async function reconcile(
  db: ReturnType<MongoClient['db']>,
  redis: RedisClient,
  prefix: string,
  eventIds: string[],
  shipmentPrefix: string,
): Promise<RunReconciliation> {
  const ledger = await db
    .collection(Collections.ledger)
    .find(thisRun, { projection: { eventId: 1, status: 1, attemptHistory: 1 } })
    .toArray();
  // An accepted event no worker has touched yet is still a job in Redis: queued, not lost.
  // (One pipeline is fine on a cluster too: a `{hash tag}` prefix puts every job key in one slot.)
  const untouched = untouchedEvents(eventIds, ledger as unknown as LedgerRecord[]);
  const pipeline = redis.pipeline();
  for (const id of untouched) pipeline.exists(`${prefix}:${EVENTS_QUEUE}:${jobIdFor(defaultIdempotencyKey('loadtest', id))}`);
  const exists = untouched.length ? ((await pipeline.exec()) ?? []).map(([, n]) => n === 1) : [];
  const dead = await db
    .collection(Collections.deadLetters)
    .find(thisRun, { projection: { reason: 1 } })
    .toArray();
  return reconcileRun({
    accepted: eventIds,
    ledger: ledger as unknown as LedgerRecord[],
    stillQueued: new Set(untouched.filter((_, i) => exists[i])),
    applications: await readApplications(db, shipmentPrefix),
    deadLetterReasons: dead.map((d) => String(d.reason)),
  });
}

async function serverVersions(redis: RedisClient, db: ReturnType<MongoClient['db']>) {
  const info = await redis.info('server');
  const build = await db
    .admin()
    .command({ buildInfo: 1 })
    .catch(() => ({}));
  const ferret = (build as { ferretdbVersion?: string }).ferretdbVersion;
  return {
    redis: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
    mongo: `${String((build as { version?: string }).version ?? 'unknown')}${ferret ? ` (FerretDB ${ferret})` : ''}`,
  };
}

/** The settings that shape the figures, each with "(default)" when the environment leaves it unset. */
function gatewaySettings(): string {
  const shown: Array<[string, string]> = [
    ['POWERTOOLS_LOG_LEVEL', 'INFO'],
    ['SLS_LOG_LEVEL', 'warning'],
    ['WORKER_CONCURRENCY', '50'],
    ['ROUTING_LATENCY_MS', '2000'],
  ];
  return shown.map(([name, fallback]) => `${name}=${process.env[name] ?? `${fallback} (default)`}`).join(', ');
}

/** The command as the user typed it: `npm run load-test`, with `-- <options>` only when there were any. */
function commandLine(): string {
  const options = process.argv.slice(2).filter((arg) => arg !== '--burst');
  return [`npm run ${burst ? 'load-test:burst' : 'load-test'}`, ...(options.length > 0 ? ['--', ...options] : [])].join(' ');
}

function renderReport(r: {
  door: DoorFigures;
  issued: number;
  warmUpRequests: number;
  warmedGenerator: boolean;
  duplicatesSent: number;
  duplicatesFlagged: number;
  replies202: number;
  recon: RunReconciliation;
  checks: Array<[string, boolean]>;
  passed: boolean;
  loadSeconds: number;
  drainSeconds: number | undefined;
  samples: Sample[];
  versions: { redis: string; mongo: string };
}): string {
  const l = r.door.latency;
  const ok = (pass: boolean) => (pass ? 'ok' : 'FAIL');
  const step = Math.max(1, Math.ceil(r.samples.length / 30));
  const rows = r.samples.filter((_, i) => i % step === 0 || i === r.samples.length - 1);
  return `# Load test report

${r.passed ? '**PASS**' : '**FAIL**'}: ${new Date().toISOString()}

## Machine
- ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB memory
- Node ${process.version}; Redis ${r.versions.redis}; Mongo-wire server ${r.versions.mongo}

## Settings
The gateway's environment as this script saw it (start the stack from the same shell): ${gatewaySettings()}.
The emulator logs at the framework's level in \`npm run offline\` (warning unless SLS_LOG_LEVEL says otherwise), the functions and the worker at POWERTOOLS_LOG_LEVEL.

## Command
\`${commandLine()}\`
(${requests} requests${duration ? `, ${duration} s` : ''}, ${connections} connections, ${rate > 0 ? `open loop at ${rate}/s` : 'closed loop'}, ${(duplicateShare * 100).toFixed(0)} % duplicates, routing failure rate ${(failureRate * 100).toFixed(0)} %)

## Latency and throughput (at the door)
| p50 | p90 | p99 | p99.9 | max | mean |
| --- | --- | --- | --- | --- | --- |
| ${l.p50} ms | ${l.p90} ms | ${l.p99} ms | ${Number.isNaN(l.p99_9) ? '-' : l.p99_9} ms | ${l.max} ms | ${l.mean} ms |

How the latencies were measured: ${r.door.method} ${r.warmedGenerator ? 'Before it sent the gateway anything, the load generator ran the same load three times against a server in its own process, so its own code was compiled.' : 'The load generator started cold (`--cold-load-generator`): its own warm-up is in the figures.'}

Throughput: ${r.door.requestsPerSecond.toFixed(0)} requests/s on average (${r.door.total} requests after a warm-up wave of ${r.warmUpRequests}, one per connection, which the latency figures leave out).

Reply codes: ${
    Object.entries(r.door.codes)
      .map(([code, n]) => `${code}: ${n}`)
      .join(', ') || 'none'
  }; errors ${r.door.errors}, timeouts ${r.door.timeouts}.

## Reconciliation
| check | value | result |
| --- | --- | --- |
| requests sent (${r.warmUpRequests} of them the warm-up wave) | ${r.issued} | |
| unique events accepted (202) | ${r.recon.accepted} | |
| ROUTED | ${r.recon.routed} | |
| DEAD_LETTERED | ${r.recon.deadLettered} | |
| still in flight at the deadline (queued or being processed) | ${r.recon.inFlight} | ${ok(r.recon.inFlight === 0)} |
| lost (accepted, yet neither in the ledger nor in Redis) | ${r.recon.lost.length}${r.recon.lost.length ? ` (${r.recon.lost.slice(0, 5).join(', ')}${r.recon.lost.length > 5 ? ', ...' : ''})` : ''} | ${ok(r.recon.lost.length === 0)} |
| duplicates sent (re-sends of an earlier event) | ${r.duplicatesSent} | |
| 202 replies flagged \`duplicate: true\` / expected (202 replies − unique events) | ${r.duplicatesFlagged} / ${r.replies202 - r.recon.accepted} | ${ok(r.duplicatesFlagged === r.replies202 - r.recon.accepted)} |
| events applied more than once (shipment version records, every application of the run) | ${r.recon.appliedMoreThanOnce.length}${r.recon.appliedMoreThanOnce.length ? ` (${r.recon.appliedMoreThanOnce.slice(0, 5).join(', ')})` : ''} | ${ok(r.recon.appliedMoreThanOnce.length === 0)} |
| events applied once (the rest were older than their shipment's state when routed, or dead-lettered) | ${r.recon.appliedOnce} | |
| events retried / failed attempts | ${r.recon.retriedEvents} / ${r.recon.failedAttempts} | |
| dead letters by reason | ${JSON.stringify(r.recon.deadLettersByReason)} | |
| time to drain after the load | ${r.drainSeconds === undefined ? 'not drained by the deadline' : `${r.drainSeconds.toFixed(1)} s`} | |

${r.checks.map(([name, ok]) => `- ${ok ? 'PASS' : 'FAIL'}: ${name}`).join('\n')}

## Queue depth over time
| t (s) | waiting | active | delayed | settled (ROUTED + DEAD_LETTERED) |
| --- | --- | --- | --- | --- |
${rows.map((s) => `| ${s.at.toFixed(0)} | ${s.waiting} | ${s.active} | ${s.delayed} | ${s.settled ?? ''} |`).join('\n')}
`;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
