import { BacklogFullError, QueueUnavailableError, ValidationError } from '../errors';
import { parseShipmentEvent } from '../events/schema';
import type { EventQueue } from '../queue/event-queue';
import { raceTimeout } from '../race-timeout';
import type { BacklogGuard } from './backlog-guard';

/** The 202 body: the event is durably queued, not yet processed. */
export interface Receipt {
  accepted: true;
  eventId: string;
  idempotencyKey: string;
  correlationId: string;
  receivedAt: string;
  /** True when this idempotency key is already queued: the request was absorbed, not queued twice. */
  duplicate: boolean;
}

export interface AcceptRequest {
  /** The parsed JSON body (already signature-checked). */
  body: unknown;
  correlationId: string;
  receivedAt: Date;
  /** The source named by a per-source route, whose secret verified the request. */
  routeSource?: string;
  /** The idempotency key to use when the body has none (Standard Webhooks' `webhook-id`). */
  defaultIdempotencyKey?: string;
}

export interface AcceptDependencies {
  queue: EventQueue;
  backlog: Pick<BacklogGuard, 'check'>;
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
  const event = validEvent(request);
  const receivedAt = request.receivedAt.toISOString();
  const admitAndEnqueue = async () => {
    await deps.backlog.check();
    return deps.queue.enqueue({ event, correlationId: request.correlationId, receivedAt });
  };
  let duplicate: boolean;
  try {
    // One deadline covers both Redis calls: with Redis away, neither may hold the producer.
    ({ duplicate } = await raceTimeout(admitAndEnqueue(), deps.enqueueTimeoutMs));
  } catch (error) {
    if (error instanceof BacklogFullError || error instanceof QueueUnavailableError) throw error;
    throw new QueueUnavailableError(5, { cause: error });
  }
  return {
    accepted: true,
    eventId: event.eventId,
    idempotencyKey: event.idempotencyKey,
    correlationId: request.correlationId,
    receivedAt,
    duplicate,
  };
}

/** The 200 body of a dry run: the event is valid and would be accepted; nothing was queued. */
export interface DryRunResult {
  dryRun: true;
  valid: true;
  eventId: string;
  idempotencyKey: string;
  correlationId: string;
  /** True when a job for this idempotency key is held now: sent for real, it would be absorbed as a re-send. */
  duplicate: boolean;
}

/**
 * A dry run of {@link acceptEvent} (`?dryRun=true`): the same checks, and the same answer to
 * whether the key is already held, with nothing queued, counted against the backlog or recorded.
 * For a producer testing its signing and its events against the gateway.
 *
 * @example
 * const result = await dryRunEvent({ body, correlationId, receivedAt: new Date() }, { queue, enqueueTimeoutMs: 1500 });
 */
export async function dryRunEvent(
  request: AcceptRequest,
  deps: { queue: Pick<EventQueue, 'isHeld'>; enqueueTimeoutMs: number },
): Promise<DryRunResult> {
  const event = validEvent(request);
  let duplicate: boolean;
  try {
    duplicate = await raceTimeout(deps.queue.isHeld(event.idempotencyKey), deps.enqueueTimeoutMs);
  } catch (error) {
    throw new QueueUnavailableError(5, { cause: error });
  }
  return {
    dryRun: true,
    valid: true,
    eventId: event.eventId,
    idempotencyKey: event.idempotencyKey,
    correlationId: request.correlationId,
    duplicate,
  };
}

/** The request's event, validated, or a ValidationError saying what is wrong with it. */
function validEvent(request: AcceptRequest) {
  const parsed = parseShipmentEvent(withRequestFacts(request));
  if (!parsed.ok) throw new ValidationError(parsed.issues);
  const { event } = parsed;
  if (request.routeSource !== undefined && event.source !== request.routeSource) {
    // The secret that verified the request belongs to the route's source: the body may not claim another.
    throw new ValidationError([{ path: 'source', message: `must be "${request.routeSource}", the source of this route` }]);
  }
  return event;
}

/** Fills what the verified request says and the body left out: the route's source, the default key. */
function withRequestFacts({ body, routeSource, defaultIdempotencyKey }: AcceptRequest): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const fields = body as Record<string, unknown>;
  return {
    ...fields,
    ...(routeSource !== undefined && fields.source === undefined ? { source: routeSource } : {}),
    ...(defaultIdempotencyKey !== undefined && fields.idempotencyKey === undefined ? { idempotencyKey: defaultIdempotencyKey } : {}),
  };
}
