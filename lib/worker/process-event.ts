import type { Logger } from '@aws-lambda-powertools/logger';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { DeadLetterReason, type DeadLetterStore } from '../dead-letters/dead-letter-store';
import { CircuitOpenError, JobSchemaError, LeaseHeldError, PayloadConflictError } from '../errors';
import { payloadHash } from '../events/payload-hash';
import { parseShipmentEvent, type QueuedEvent } from '../events/schema';
import type { AttemptRecord, ClaimToken, FailureRecord, Ledger, LedgerEntry } from '../ledger/ledger';
import { BreakerState, type CircuitBreaker } from '../routing/circuit-breaker';
import type { RoutingDecision, RoutingService } from '../routing/types';
import type { ApplyOutcome, ShipmentStore } from '../shipments/shipment-store';
import { backoffDelay, type BackoffPolicy } from './backoff';
import { classifyFailure, FailureAction } from './classify-failure';
import type { AttemptOutcome, ProcessorMetrics } from './metrics';

export interface ProcessorDependencies {
  ledger: Ledger;
  shipments: ShipmentStore;
  routing: RoutingService;
  /** The routing service's breaker: while it is open, jobs wait instead of using attempts. */
  breaker?: Pick<CircuitBreaker, 'state' | 'retryAt'>;
  deadLetters: Pick<DeadLetterStore, 'deadLetter'>;
  logger: Logger;
  /** Identifies this worker process in ledger leases. */
  workerId: string;
  leaseMs: number;
  backoff: BackoffPolicy;
  metrics?: ProcessorMetrics;
}

export type ProcessOutcome =
  | { outcome: 'routed'; routing: RoutingDecision; applied: ApplyOutcome }
  | { outcome: 'duplicate' }
  | { outcome: 'already-dead-lettered' };

/** Logged when a holder's step finds its claim already taken over (its lease ran out). */
const LEASE_LOST = 'lease expired and another worker took the event over; this attempt leaves the ledger to it';

/** How long to wait before looking again when a dead letter could not be recorded. */
const DEAD_LETTER_RETRY_MS = 5000;

/**
 * Thrown to BullMQ when an attempt failed and another is due: carries the delay this worker
 * chose (and wrote to the ledger as `nextAttemptAt`), which the backoff strategy hands back.
 */
export class RetryScheduledError extends Error {
  readonly retryDelayMs: number;
  constructor(cause: unknown, retryDelayMs: number) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = cause instanceof Error ? cause.name : 'RetryScheduledError';
    this.retryDelayMs = retryDelayMs;
  }
}

function readJob(job: Job<QueuedEvent>): QueuedEvent {
  const parsed = parseShipmentEvent(job.data?.event);
  if (!parsed.ok) {
    throw new JobSchemaError(`job ${job.id} does not hold a valid event: ${parsed.issues.map((i) => i.path).join(', ')}`);
  }
  return {
    event: parsed.event,
    correlationId: String(job.data.correlationId ?? job.id),
    receivedAt: String(job.data.receivedAt ?? new Date(job.timestamp).toISOString()),
  };
}

function describe(error: unknown, attempt: number): FailureRecord {
  return error instanceof Error
    ? { attempt, error: error.name, message: error.message }
    : { attempt, error: 'Error', message: String(error) };
}

/**
 * Builds the worker's job processor: claim the event in the ledger, look up the shipment,
 * ask the routing service, apply the new state once, complete the ledger entry. Failures are
 * classified in one place: retried with capped, jittered backoff, delayed without using an
 * attempt, or dead-lettered (recorded in Mongo and the Redis DLQ before the job fails).
 */
export function createEventProcessor(deps: ProcessorDependencies) {
  const attempt = createAttempt(deps);
  return async function processEvent(job: Job<QueuedEvent>, token?: string): Promise<ProcessOutcome> {
    const started = performance.now();
    let outcome: AttemptOutcome = 'retry';
    try {
      const result = await attempt(job, token);
      outcome = result.outcome === 'already-dead-lettered' ? 'already_dead_lettered' : result.outcome;
      return result;
    } catch (error) {
      outcome = error instanceof DelayedError ? 'delayed' : error instanceof UnrecoverableError ? 'dead_lettered' : 'retry';
      throw error;
    } finally {
      deps.metrics?.attemptFinished(outcome, (performance.now() - started) / 1000);
    }
  };
}

function createAttempt(deps: ProcessorDependencies) {
  return async function attemptEvent(job: Job<QueuedEvent>, token?: string): Promise<ProcessOutcome> {
    const attempt = job.attemptsMade + 1;
    const maxAttempts = job.opts.attempts ?? 1;
    const owner = `${deps.workerId}/${token ?? job.id}`;
    const log = jobLog(deps.logger, { correlationId: job.data?.correlationId, eventId: job.data?.event?.eventId, jobId: job.id, attempt });
    let item: QueuedEvent | undefined;
    let hash = 'unreadable';
    let claimed: LedgerEntry | undefined;
    let heldUntil: Date | null = null;
    try {
      item = readJob(job);
      if (deps.breaker?.state === BreakerState.OPEN) throw new CircuitOpenError(deps.breaker.retryAt());
      hash = payloadHash(item.event);
      const key = item.event.idempotencyKey;
      const claim = await deps.ledger.claimEvent({ item, payloadHash: hash, owner, leaseMs: deps.leaseMs });
      switch (claim.kind) {
        case 'done':
          log.info('event already routed; duplicate suppressed');
          return { outcome: 'duplicate' };
        case 'dead-lettered':
          log.info('event already dead-lettered; waiting for a replay');
          return { outcome: 'already-dead-lettered' };
        case 'conflict':
          throw new PayloadConflictError(key);
        case 'busy':
          heldUntil = claim.entry.leaseUntil;
          throw new LeaseHeldError(key);
        case 'claimed':
          claimed = claim.entry;
      }
      const shipment = await deps.shipments.getShipment(item.event.payload.shipmentId);
      const routingStarted = performance.now();
      const routing = await deps.routing.route({ event: item.event, shipment }).catch((error: unknown) => {
        deps.metrics?.routingCall('error', (performance.now() - routingStarted) / 1000);
        throw error;
      });
      deps.metrics?.routingCall('ok', (performance.now() - routingStarted) / 1000);
      const applied = await deps.shipments.applyEvent(item.event, routing, shipment);
      if (!(await deps.ledger.markRouted(tokenOf(claimed, owner), routing))) {
        log.warn('lease expired before completion; the shipment update is idempotent, another worker completes it');
      }
      log.info('event routed', { hub: routing.hub, lane: routing.lane, applied });
      return { outcome: 'routed', routing, applied };
    } catch (error) {
      const failure = describe(error, attempt);
      const decision = classifyFailure(error);
      if (decision.action === FailureAction.DELAY) {
        const delayMs = delayFor(error, heldUntil, deps.leaseMs);
        if (item && claimed) {
          if (!(await deps.ledger.releaseClaim(tokenOf(claimed, owner), new Date(Date.now() + delayMs)))) log.warn(LEASE_LOST);
        }
        log.info('event delayed without using an attempt', { reason: failure.error, delayMs });
        await job.moveToDelayed(Date.now() + delayMs, token);
        throw new DelayedError();
      }
      if (decision.action === FailureAction.RETRY && attempt < maxAttempts) {
        const delayMs = backoffDelay(attempt, deps.backoff);
        const nextAttemptAt = new Date(Date.now() + delayMs);
        log.warn('attempt failed; retrying', { error: failure, delayMs, maxAttempts });
        if (item && claimed) {
          if (!(await deps.ledger.markFailed(tokenOf(claimed, owner), failure, nextAttemptAt))) log.warn(LEASE_LOST);
        }
        throw new RetryScheduledError(error, delayMs);
      }
      const reason = decision.action === FailureAction.RETRY ? DeadLetterReason.RETRIES_EXHAUSTED : decision.reason;
      try {
        const deadItem = item ?? fallbackItem(job);
        const history: AttemptRecord[] = [...(claimed?.attemptHistory ?? []), { ...failure, at: new Date() }];
        await deps.deadLetters.deadLetter({
          item: deadItem,
          payloadHash: hash,
          reason,
          error: { name: failure.error, message: failure.message },
          attempts: attempt,
          attemptHistory: history,
        });
        // A conflicting payload must not touch the ledger entry of the original event.
        if (claimed && !(await deps.ledger.markDeadLettered(tokenOf(claimed, owner), failure))) log.warn(LEASE_LOST);
      } catch (recordError) {
        log.error('could not record the dead letter; keeping the job', { error: describe(recordError, attempt) });
        await job.moveToDelayed(Date.now() + DEAD_LETTER_RETRY_MS, token);
        throw new DelayedError();
      }
      log.error('event dead-lettered', { reason, error: failure });
      throw new UnrecoverableError(`${reason}: ${failure.message}`);
    }
  };
}

type LogAttributes = Record<string, unknown>;

/**
 * The job's keys (correlation id, event, job, attempt) on every line it logs. The shared logger
 * with the keys passed per line, rather than a Powertools child logger per job, which builds a
 * whole logger (about 45 us) for each of hundreds of jobs a second.
 */
function jobLog(logger: Logger, keys: LogAttributes) {
  return {
    info: (message: string, attributes: LogAttributes = {}) => logger.info(message, { ...keys, ...attributes }),
    warn: (message: string, attributes: LogAttributes = {}) => logger.warn(message, { ...keys, ...attributes }),
    error: (message: string, attributes: LogAttributes = {}) => logger.error(message, { ...keys, ...attributes }),
  };
}

/** What a holder of a ledger claim presents to move the entry on. */
function tokenOf(entry: LedgerEntry, owner: string): ClaimToken {
  return { key: entry._id, owner, round: entry.round ?? 1, attempts: entry.attempts };
}

/**
 * How long a delayed job waits: until the routing circuit's cool-down ends (spread by up to a
 * fifth, so waiting jobs do not all return at once), or until another worker's lease expires.
 */
function delayFor(error: unknown, heldUntil: Date | null, leaseMs: number): number {
  if (error instanceof CircuitOpenError) {
    const wait = Math.max(250, error.retryAt - Date.now());
    return Math.round(wait * (1 + Math.random() * 0.2));
  }
  return Math.max(1000, heldUntil ? heldUntil.getTime() - Date.now() : leaseMs);
}

/** A best-effort description of a job whose data is not a valid event, so it can be dead-lettered. */
function fallbackItem(job: Job<QueuedEvent>): QueuedEvent {
  const raw = (job.data?.event ?? {}) as Partial<QueuedEvent['event']>;
  const eventId = typeof raw.eventId === 'string' ? raw.eventId : `job-${job.id}`;
  return {
    event: {
      eventId,
      eventType: typeof raw.eventType === 'string' ? raw.eventType : 'unknown',
      source: typeof raw.source === 'string' ? raw.source : 'unknown',
      occurredAt: typeof raw.occurredAt === 'string' ? raw.occurredAt : new Date(job.timestamp).toISOString(),
      idempotencyKey: typeof raw.idempotencyKey === 'string' ? raw.idempotencyKey : `job:${job.id}`,
      payload: { shipmentId: 'unknown', status: 'unknown', ...(raw.payload ?? {}) },
    },
    correlationId: String(job.data?.correlationId ?? job.id),
    receivedAt: new Date(job.timestamp).toISOString(),
  };
}
