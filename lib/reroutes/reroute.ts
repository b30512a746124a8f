import type { Db } from 'mongodb';
import type { DeadLetterRecord } from '../dead-letters/dead-letter-store';
import { RerouteConflictError, RerouteNotFoundError, ValidationError } from '../errors';
import type { QueuedEvent, ShipmentEvent } from '../events/schema';
import { EventStatus } from '../events/status';
import type { LedgerEntry } from '../ledger/ledger';
import { entriesByEventId, selectEntries } from '../ops/event-search';
import type { EventQueue } from '../queue/event-queue';
import { jobIdFor } from '../queue/names';
import { Collections } from '../store/mongo';
import { MAX_REROUTE_EVENTS, REROUTABLE_STATUSES, rerouteFingerprint, type RerouteRequest } from './reroute-request';
import { RerouteStore, type RerouteItem, type RerouteRecord, type SkippedEvent } from './reroute-store';

/** How many selected events a dry run shows. */
export const SAMPLE_SIZE = 10;
/** A record still queuing after this long was left by a request that died: a repeat of the request finishes it. */
const QUEUING_ABANDONED_MS = 30_000;
/** Jobs added to Redis at once while queuing. */
const QUEUE_BATCH = 50;

/** Who asks, as the audit trail and the events' round history record it. */
export interface RerouteOperator {
  keyId: string | null;
  via: string;
}

export interface RerouteDependencies {
  db: Db;
  events: Pick<EventQueue, 'enqueue' | 'findQueuedJobId'>;
  /** The pace when the request gives none (REPLAY_RATE_PER_SECOND). */
  defaultRatePerSecond: number;
  now?: () => number;
}

export interface SampleEvent {
  eventId: string;
  source: string;
  eventType: string;
  shipmentId?: string;
  status: string;
  receivedAt: string;
}

export type RerouteState = 'queuing' | 'running' | 'done';

/** Where a confirmed re-route is: `routed` and `failed` count the events whose new round ended so. */
export interface RerouteProgress {
  requestId: string;
  reason: string;
  by: string | null;
  createdAt: string;
  dryRun: false;
  matched: number;
  queued: number;
  routed: number;
  failed: number;
  state: RerouteState;
  finishedAt?: string;
  ratePerSecond: number;
  skipped: SkippedEvent[];
}

export interface DryRunReply {
  requestId: string;
  dryRun: true;
  matched: number;
  sample: SampleEvent[];
  skipped: SkippedEvent[];
}

export interface ConfirmedReply {
  requestId: string;
  dryRun: false;
  matched: number;
  state: RerouteState;
  progress: { queued: number; routed: number; failed: number };
  statusUrl: string;
  skipped: SkippedEvent[];
}

/**
 * What a re-route request came to: a dry run; a confirmed request queued now (`queued`, 202 over
 * HTTP); or a request id seen before with the same body (`repeated`, 200: its progress, nothing
 * re-routed again).
 */
export type RerouteOutcome =
  { kind: 'dry-run'; reply: DryRunReply } | { kind: 'queued'; reply: ConfirmedReply } | { kind: 'repeated'; reply: ConfirmedReply };

/** A selected event with the event body its job carries. */
interface Selected {
  entry: LedgerEntry;
  event: ShipmentEvent;
}

/**
 * Re-routes ROUTED and DEAD_LETTERED events: each selected event gets a new routing round
 * (round n + 1), carried by a job of its own (`<event job id>-rr<round>`) that the workers route
 * like any event; the shipment's guard still holds for it (an older event re-routed does not
 * roll the shipment back). Without `confirm`, only counts and samples what it would select.
 * Confirmed, it records the request under its id with a unique insert (the same id again
 * reports progress and queues nothing; another body under it is a conflict) and queues the jobs
 * at once, each delayed by its place in the pace (`i / ratePerSecond` seconds), so Redis holds
 * the rate cap and the request need not stay open for it.
 *
 * @example
 * const outcome = await rerouteEvents(parseRerouteRequest(body), { keyId, via: 'POST /v1/ops/reroutes' }, deps);
 */
export async function rerouteEvents(
  request: RerouteRequest,
  operator: RerouteOperator,
  deps: RerouteDependencies,
): Promise<RerouteOutcome> {
  const store = new RerouteStore(deps.db);
  const fingerprint = rerouteFingerprint(request);
  const existing = await store.find(request.requestId);
  if (existing) return repeated(existing, fingerprint, deps);
  const { selected, skipped } = await select(request, deps);
  if (!request.confirm) {
    const sample = selected.slice(0, SAMPLE_SIZE).map(({ entry }) => sampleOf(entry));
    return { kind: 'dry-run', reply: { requestId: request.requestId, dryRun: true, matched: selected.length, sample, skipped } };
  }
  const { requestId: _id, confirm: _confirm, ...asked } = request;
  const record: RerouteRecord = {
    _id: request.requestId,
    fingerprint,
    reason: request.reason,
    by: operator.keyId,
    via: operator.via,
    request: asked,
    createdAt: new Date(now(deps)),
    ratePerSecond: request.ratePerSecond ?? deps.defaultRatePerSecond,
    matched: selected.length,
    items: selected.map(({ entry }) => itemOf(entry)),
    skipped,
    queuedAt: null,
  };
  // Two identical requests at once: the unique insert lets one of them queue.
  if (!(await store.create(record))) return repeated(await found(store, request.requestId), fingerprint, deps);
  await queueItems(record, selected, deps);
  return { kind: 'queued', reply: confirmedReply(await rerouteProgress(request.requestId, deps)) };
}

/** The request id was seen: the same body reports its progress (finishing its queuing if its request died); another is a conflict. */
async function repeated(record: RerouteRecord, fingerprint: string, deps: RerouteDependencies): Promise<RerouteOutcome> {
  if (record.fingerprint !== fingerprint) throw new RerouteConflictError(record._id);
  if (record.queuedAt === null && now(deps) - record.createdAt.getTime() > QUEUING_ABANDONED_MS) {
    // Job ids are the items' own: queuing again adds only what the dead request had not.
    await queueItems(record, await bodiesOf(record, deps.db), deps);
  }
  return { kind: 'repeated', reply: confirmedReply(await rerouteProgress(record._id, deps)) };
}

/** Queues each item's job, delayed by its place in the pace, then marks the record queued. */
async function queueItems(record: RerouteRecord, selected: Selected[], deps: RerouteDependencies): Promise<void> {
  const bodies = new Map(selected.map((s) => [s.entry._id, s]));
  const at = record.createdAt.toISOString();
  for (let start = 0; start < record.items.length; start += QUEUE_BATCH) {
    const batch = record.items.slice(start, start + QUEUE_BATCH);
    await Promise.all(
      batch.map(async (item, offset) => {
        const body = bodies.get(item.key);
        if (!body) return;
        const job: QueuedEvent = {
          event: body.event,
          correlationId: body.entry.correlationId,
          receivedAt: body.entry.receivedAt.toISOString(),
          reroute: { round: item.round, requestId: record._id, reason: record.reason, by: record.by, at },
        };
        await deps.events.enqueue(job, item.jobId, { delayMs: ((start + offset) * 1000) / record.ratePerSecond });
      }),
    );
  }
  await new RerouteStore(deps.db).markQueued(record._id, new Date(now(deps)));
}

/**
 * The events a request selects, with why the others are not: by ids (each unknown, still under
 * way, or without a kept body is skipped with why), or by filter (over {@link MAX_REROUTE_EVENTS}
 * matches is refused, to be narrowed).
 */
async function select(request: RerouteRequest, deps: RerouteDependencies): Promise<{ selected: Selected[]; skipped: SkippedEvent[] }> {
  const skipped: SkippedEvent[] = [];
  let entries: LedgerEntry[];
  if (request.ids) {
    const ids = [...new Set(request.ids)];
    entries = await entriesByEventId(deps.db, ids);
    const known = new Set(entries.map((e) => e.eventId));
    for (const eventId of ids.filter((id) => !known.has(id))) {
      const queued = await deps.events.findQueuedJobId(eventId);
      skipped.push({
        eventId,
        why: queued ? 'QUEUED: not taken up by a worker yet; only ROUTED or DEAD_LETTERED events are re-routed' : 'no such event',
      });
    }
    entries = entries.filter((entry) => {
      const reroutable = (REROUTABLE_STATUSES as readonly string[]).includes(entry.status);
      if (!reroutable) skipped.push({ eventId: entry.eventId, why: `${entry.status}: only ROUTED or DEAD_LETTERED events are re-routed` });
      return reroutable;
    });
  } else {
    const { from, to, ...fields } = request.filter!;
    entries = await selectEntries(
      deps.db,
      { ...fields, from: new Date(from), to: new Date(to) },
      REROUTABLE_STATUSES,
      MAX_REROUTE_EVENTS + 1,
    );
    if (entries.length > MAX_REROUTE_EVENTS) {
      throw new ValidationError(
        [
          {
            path: 'filter',
            message: `matches more than ${MAX_REROUTE_EVENTS} events: narrow the window or add a field, and re-route in parts`,
          },
        ],
        { message: 'the re-route request is not valid' },
      );
    }
  }
  const bodies = await eventBodies(entries, deps.db);
  const selected: Selected[] = [];
  for (const entry of entries) {
    const event = bodies.get(entry._id);
    if (event) selected.push({ entry, event });
    else
      skipped.push({
        eventId: entry.eventId,
        why: 'its event was not kept (processed before re-routing existed, and no dead letter holds it)',
      });
  }
  return { selected, skipped };
}

/**
 * Each entry's event: kept in the ledger entry since re-routing exists; for an older
 * dead-lettered entry, from its dead letter.
 */
async function eventBodies(entries: LedgerEntry[], db: Db): Promise<Map<string, ShipmentEvent>> {
  const bodies = new Map<string, ShipmentEvent>();
  const missing: string[] = [];
  for (const entry of entries) {
    if (entry.event) bodies.set(entry._id, entry.event);
    else if (entry.status === EventStatus.DEAD_LETTERED) missing.push(`${entry._id}|${entry.payloadHash}`);
  }
  if (missing.length > 0) {
    const records = await db
      .collection<DeadLetterRecord>(Collections.deadLetters)
      .find({ _id: { $in: missing } }, { projection: { idempotencyKey: 1, item: 1 } })
      .toArray();
    for (const record of records) bodies.set(record.idempotencyKey, record.item.event);
  }
  return bodies;
}

/** The bodies of a record's items, read again (to finish the queuing of a request that died). */
async function bodiesOf(record: RerouteRecord, db: Db): Promise<Selected[]> {
  const entries = await db
    .collection<LedgerEntry>(Collections.ledger)
    .find({ _id: { $in: record.items.map((item) => item.key) } })
    .toArray();
  const bodies = await eventBodies(entries, db);
  return entries.flatMap((entry) => {
    const event = bodies.get(entry._id);
    return event ? [{ entry, event }] : [];
  });
}

/**
 * Where a confirmed re-route is, read from the ledger: an event counts as routed once its new
 * round has ended ROUTED (whether its shipment took a new version or the round was stale), as
 * failed once it ended DEAD_LETTERED (a replay that routes it later moves it to routed).
 *
 * @example
 * const progress = await rerouteProgress('r-2026-11-24-ams', deps); // { state: 'running', routed: 120, ... }
 */
export async function rerouteProgress(requestId: string, deps: Pick<RerouteDependencies, 'db'>): Promise<RerouteProgress> {
  const record = await found(new RerouteStore(deps.db), requestId);
  const entries = await deps.db
    .collection<LedgerEntry>(Collections.ledger)
    .find({ _id: { $in: record.items.map((item) => item.key) } }, { projection: { routingRounds: 1 } })
    .toArray();
  const rounds = new Map(entries.map((entry) => [entry._id, entry.routingRounds ?? []]));
  let routed = 0;
  let failed = 0;
  let finishedAt = 0;
  for (const item of record.items) {
    const ended = (rounds.get(item.key) ?? []).filter((r) => r.round === item.round);
    const outcome = ended.find((r) => r.outcome === EventStatus.ROUTED) ?? ended.find((r) => r.outcome === EventStatus.DEAD_LETTERED);
    if (!outcome) continue;
    if (outcome.outcome === EventStatus.ROUTED) routed++;
    else failed++;
    finishedAt = Math.max(finishedAt, outcome.finishedAt?.getTime() ?? 0);
  }
  const queued = record.queuedAt ? record.items.length : 0;
  const state: RerouteState = !record.queuedAt ? 'queuing' : routed + failed >= queued ? 'done' : 'running';
  return {
    requestId: record._id,
    reason: record.reason,
    by: record.by,
    createdAt: record.createdAt.toISOString(),
    dryRun: false,
    matched: record.matched,
    queued,
    routed,
    failed,
    state,
    ...(state === 'done' ? { finishedAt: new Date(finishedAt || record.queuedAt!.getTime()).toISOString() } : {}),
    ratePerSecond: record.ratePerSecond,
    skipped: record.skipped,
  };
}

async function found(store: RerouteStore, requestId: string): Promise<RerouteRecord> {
  const record = await store.find(requestId);
  if (!record) throw new RerouteNotFoundError(requestId);
  return record;
}

function confirmedReply(progress: RerouteProgress): ConfirmedReply {
  const { requestId, matched, state, queued, routed, failed, skipped } = progress;
  return {
    requestId,
    dryRun: false,
    matched,
    state,
    progress: { queued, routed, failed },
    statusUrl: `/v1/ops/reroutes/${encodeURIComponent(requestId)}`,
    skipped,
  };
}

/** The event's next routing round and the job that carries it. */
function itemOf(entry: LedgerEntry): RerouteItem {
  const round = (entry.routingRound ?? 1) + 1;
  return { eventId: entry.eventId, key: entry._id, round, jobId: `${jobIdFor(entry._id)}-rr${round}` };
}

function sampleOf(entry: LedgerEntry): SampleEvent {
  return {
    eventId: entry.eventId,
    source: entry.source,
    eventType: entry.eventType,
    ...(entry.shipmentId ? { shipmentId: entry.shipmentId } : {}),
    status: entry.status,
    receivedAt: entry.receivedAt.toISOString(),
  };
}

function now(deps: Pick<RerouteDependencies, 'now'>): number {
  return (deps.now ?? Date.now)();
}
