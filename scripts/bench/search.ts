/**
 * `npm run bench:search`: how fast the operators' event search (`GET /v1/ops/events`,
 * lib/ops/event-search.ts) answers on the Mongo-wire server the tests run (the FerretDB built by
 * `npm run build:tools`, or MONGO_URL), with BENCH_EVENTS (100,000) ledger entries loaded. For
 * each filter it runs BENCH_QUERIES (5) searches of 50 results with random values, one at a time,
 * and prints p50 and p95, beside an `_id` look-up of the same run as the baseline. FerretDB 1.24
 * serves only `_id` from an index, so every filter here is a scan; MongoDB serves each from the
 * indexes ensureIndexes declares (EVENT_SEARCH_INDEXES). Figures, not assertions.
 */
import { MongoClient } from 'mongodb';
import type { LedgerEntry } from '../../lib/ledger/ledger';
import { EventSearch, type EventSearchFilter } from '../../lib/ops/event-search';
import { Collections, ensureIndexes } from '../../lib/store/mongo';
import { startFerretDb, type RunningService } from '../local-services';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 100_000);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 5);
const SHIPMENTS = Math.max(1, Math.floor(EVENTS / 20));
const ORDERS = Math.max(1, Math.floor(EVENTS / 50));
const SOURCES = ['dhl', 'fedex', 'ups', 'gls', 'marketplace'];
const TYPES = ['shipment.picked_up', 'shipment.in_transit', 'shipment.out_for_delivery', 'shipment.delivered', 'shipment.exception'];
const STATUSES = [
  'ROUTED',
  'ROUTED',
  'ROUTED',
  'ROUTED',
  'ROUTED',
  'ROUTED',
  'ROUTED',
  'FAILED',
  'DEAD_LETTERED',
  'ROUTING_PENDING',
] as const;
const HOUR = 3_600_000;

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

/** One synthetic ledger entry, received within the last 7 days. */
function entry(i: number, now: number): LedgerEntry {
  const receivedAt = new Date(now - Math.floor(Math.random() * 7 * 24 * HOUR));
  return {
    _id: `bench:evt-${i}`,
    eventId: `evt-${i}`,
    source: pick(SOURCES),
    eventType: pick(TYPES),
    shipmentId: `SHP-${i % SHIPMENTS}`,
    orderId: i % 3 === 0 ? null : `ORD-${i % ORDERS}`,
    payloadHash: 'x',
    correlationId: `corr-${i}`,
    status: pick(STATUSES),
    attempts: 1,
    attemptHistory: [],
    leaseOwner: null,
    leaseUntil: null,
    receivedAt,
    firstSeenAt: receivedAt,
    updatedAt: receivedAt,
    round: 2,
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function timed(runs: number, run: () => Promise<unknown>): Promise<{ p50: number; p95: number }> {
  const times: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const started = performance.now();
    await run();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p95: percentile(times, 95) };
}

async function main(): Promise<void> {
  let server: RunningService | undefined;
  const url = process.env.MONGO_URL ?? (server = await startFerretDb()).url;
  const client = await new MongoClient(url, { maxPoolSize: 10 }).connect();
  const db = client.db(`bench_search_${Date.now()}`);
  try {
    await ensureIndexes(db);
    const ledger = db.collection<LedgerEntry>(Collections.ledger);
    const now = Date.now();
    const loadStarted = performance.now();
    for (let i = 0; i < EVENTS; i += 1000) {
      await ledger.insertMany(
        Array.from({ length: Math.min(1000, EVENTS - i) }, (_, j) => entry(i + j, now)),
        { ordered: false },
      );
    }
    console.log(
      `${EVENTS.toLocaleString('en-US')} events loaded in ${((performance.now() - loadStarted) / 1000).toFixed(1)} s; Mongo at ${url}`,
    );

    const search = new EventSearch(db);
    const window = () => {
      const to = now - Math.floor(Math.random() * 6 * 24 * HOUR);
      return { from: new Date(to - HOUR), to: new Date(to) };
    };
    const filters: Array<[string, () => EventSearchFilter]> = [
      ['shipmentId', () => ({ shipmentId: `SHP-${Math.floor(Math.random() * SHIPMENTS)}` })],
      ['orderId', () => ({ orderId: `ORD-${Math.floor(Math.random() * ORDERS)}` })],
      ['source + 1 h window', () => ({ source: pick(SOURCES), ...window() })],
      ['eventType + 1 h window', () => ({ eventType: pick(TYPES), ...window() })],
      ['status DEAD_LETTERED', () => ({ status: 'DEAD_LETTERED' })],
      ['1 h window alone', window],
    ];
    const baseline = await timed(QUERIES, () => ledger.findOne({ _id: `bench:evt-${Math.floor(Math.random() * EVENTS)}` }));
    console.log(`${QUERIES} searches per filter, 50 results a page, one at a time\n`);
    console.log('| filter | p50 ms | p95 ms | p50 / `_id` look-up |\n| --- | --- | --- | --- |');
    console.log(`| \`_id\` look-up (baseline) | ${baseline.p50.toFixed(1)} | ${baseline.p95.toFixed(1)} | 1.0 |`);
    for (const [label, filter] of filters) {
      const { p50, p95 } = await timed(QUERIES, () => search.search(filter(), { limit: 50 }));
      console.log(`| ${label} | ${p50.toFixed(1)} | ${p95.toFixed(1)} | ${(p50 / baseline.p50).toFixed(0)} |`);
    }
  } finally {
    await db.dropDatabase().catch(() => undefined);
    await client.close();
    await server?.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
