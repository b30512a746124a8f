import { EventNotFoundError } from '../errors';
import { EventStatus } from '../events/status';
import type { Ledger, LedgerEntry } from '../ledger/ledger';
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
  };
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
