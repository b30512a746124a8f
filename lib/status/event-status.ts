import { EventNotFoundError } from '../errors';
import { EventStatus } from '../events/status';
import type { Ledger, LedgerEntry, RoutingRoundRecord } from '../ledger/ledger';
import type { EventQueue } from '../queue/event-queue';
import type { RoutingDecision } from '../routing/types';

/** What `GET /v1/events/{eventId}` shows. */
export interface EventStatusView {
  eventId: string;
  status: EventStatus;
  idempotencyKey?: string;
  source?: string;
  eventType?: string;
  shipmentId?: string;
  orderId?: string | null;
  correlationId?: string;
  attempts: number;
  attemptHistory?: Array<{ attempt: number; at: string; error: string; message: string }>;
  nextAttemptAt?: string | null;
  routing?: RoutingDecision;
  receivedAt?: string;
  updatedAt?: string;
  routedAt?: string;
  deadLetteredAt?: string;
  replayCount?: number;
  replays?: Array<{ at: string; jobId: string }>;
  /** 1 for the original processing, one more for every re-route. */
  routingRound?: number;
  /** Each re-route round, oldest first: asked by whom, why and when, and how it ended (its status while under way). */
  rounds?: RoundView[];
}

/** One re-route round of an event, as the status route shows it. */
export interface RoundView {
  round: number;
  requestId: string;
  reason: string;
  by: string | null;
  at: string;
  outcome: EventStatus;
  routing?: RoutingDecision;
  applied?: string;
  finishedAt?: string;
}

export interface StatusDependencies {
  ledger: Pick<Ledger, 'findByEventId'>;
  queue: Pick<EventQueue, 'findQueuedJobId'>;
}

const iso = (date: Date | null | undefined) => (date ? date.toISOString() : undefined);

/** What the ledger knows of an event, as the status route and the operators' search show it. */
export function statusViewOf(entry: LedgerEntry): EventStatusView {
  return {
    eventId: entry.eventId,
    status: entry.status,
    idempotencyKey: entry._id,
    source: entry.source,
    eventType: entry.eventType,
    shipmentId: entry.shipmentId,
    orderId: entry.orderId,
    correlationId: entry.correlationId,
    attempts: entry.attempts,
    attemptHistory: entry.attemptHistory.map((a) => ({
      attempt: a.attempt,
      at: a.at.toISOString(),
      error: a.error,
      message: a.message,
    })),
    nextAttemptAt:
      entry.status === EventStatus.FAILED || entry.status === EventStatus.QUEUED ? (iso(entry.nextAttemptAt) ?? null) : undefined,
    routing: entry.routing,
    receivedAt: iso(entry.receivedAt),
    updatedAt: iso(entry.updatedAt),
    routedAt: iso(entry.routedAt),
    deadLetteredAt: iso(entry.deadLetteredAt),
    replayCount: entry.replayCount ?? 0,
    replays: (entry.replays ?? []).map((r) => ({ at: r.at.toISOString(), jobId: r.jobId })),
    routingRound: entry.routingRound ?? 1,
    rounds: roundsOf(entry),
  };
}

/** The finished re-route rounds, and the current one while it is under way. */
function roundsOf(entry: LedgerEntry): RoundView[] {
  const view = (r: RoutingRoundRecord, outcome: EventStatus): RoundView => ({
    round: r.round,
    requestId: r.requestId,
    reason: r.reason,
    by: r.by,
    at: r.at.toISOString(),
    outcome,
    ...(r.routing ? { routing: r.routing } : {}),
    ...(r.applied ? { applied: r.applied } : {}),
    ...(r.finishedAt ? { finishedAt: r.finishedAt.toISOString() } : {}),
  });
  const finished = (entry.routingRounds ?? []).map((r) => view(r, r.outcome ?? entry.status));
  const current = entry.currentReroute;
  const underWay = current && entry.status !== EventStatus.ROUTED && entry.status !== EventStatus.DEAD_LETTERED;
  if (current && underWay) finished.push(view(current, entry.status));
  return finished.sort((a, b) => a.round - b.round || a.finishedAt?.localeCompare(b.finishedAt ?? '') || 0);
}

/**
 * Where an event is. The ledger knows every event a worker has touched; an event accepted but
 * not yet picked up is found through the queue's index and shows QUEUED.
 */
export async function getEventStatus(eventId: string, deps: StatusDependencies): Promise<EventStatusView> {
  const entry = await deps.ledger.findByEventId(eventId);
  if (entry) return statusViewOf(entry);
  if (await deps.queue.findQueuedJobId(eventId)) {
    return { eventId, status: EventStatus.QUEUED, attempts: 0 };
  }
  throw new EventNotFoundError(eventId);
}
