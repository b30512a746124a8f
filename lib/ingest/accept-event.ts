import { QueueUnavailableError, ValidationError } from '../errors';
import { parseShipmentEvent } from '../events/schema';
import type { EventQueue } from '../queue/event-queue';

/** The 202 body: the event is durably queued, not yet processed. */
export interface Receipt {
  accepted: true;
  eventId: string;
  idempotencyKey: string;
  correlationId: string;
  receivedAt: string;
}

export interface AcceptRequest {
  /** The parsed JSON body (already signature-checked). */
  body: unknown;
  correlationId: string;
  receivedAt: Date;
}

export interface AcceptDependencies {
  queue: EventQueue;
  /** Longer than this, and the producer gets a 503 to retry instead of a hanging request. */
  enqueueTimeoutMs: number;
}

/**
 * The ingest use case: validate the event and queue it durably, or say why not. Resolves only
 * once Redis has taken the job, so a receipt is never issued for an event that was not queued.
 *
 * @example
 * const receipt = await acceptEvent({ body, correlationId, receivedAt: new Date() }, { queue, enqueueTimeoutMs: 1500 });
 */
export async function acceptEvent(request: AcceptRequest, deps: AcceptDependencies): Promise<Receipt> {
  const parsed = parseShipmentEvent(request.body);
  if (!parsed.ok) throw new ValidationError(parsed.issues);
  const { event } = parsed;
  const receivedAt = request.receivedAt.toISOString();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new QueueUnavailableError()), deps.enqueueTimeoutMs);
  });
  try {
    await Promise.race([deps.queue.enqueue({ event, correlationId: request.correlationId, receivedAt }), timeout]);
  } catch (error) {
    throw error instanceof QueueUnavailableError ? error : new QueueUnavailableError(5, { cause: error });
  } finally {
    clearTimeout(timer);
  }
  return {
    accepted: true,
    eventId: event.eventId,
    idempotencyKey: event.idempotencyKey,
    correlationId: request.correlationId,
    receivedAt,
  };
}
