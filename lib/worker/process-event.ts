import type { Logger } from '@aws-lambda-powertools/logger';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { DeadLetterReason, DeadLetterStore } from '../dead-letters/dead-letter-store';
import { CircuitOpenError, JobSchemaError } from '../errors';
import { payloadHash } from '../events/payload-hash';
import { parseShipmentEvent, rerouteOrderSchema, type QueuedEvent } from '../events/schema';
import type { ClaimToken, FailureRecord, Ledger, LedgerEntry } from '../ledger/ledger';
import { BreakerState, type CircuitBreaker } from '../routing/circuit-breaker';
import type { RoutingDecision, RoutingService } from '../routing/types';
import type { ApplyOutcome, ShipmentStore } from '../shipments/shipment-store';
import { RetryScheduledError, type BackoffPolicy } from './backoff';
import { decideAttempt, DecisionKind, describeFailure, type AttemptResult, type Decision, type RetryDecision } from './decide-attempt';
import type { AttemptOutcome, ProcessorMetrics } from './metrics';

export interface ProcessorDependencies {
  ledger: Ledger;
  shipments: ShipmentStore;
  routing: RoutingService;
  /** The routing service's breaker: while it is open, jobs wait instead of using attempts. */
  breaker?: Pick<CircuitBreaker, 'state' | 'retryAt'>;
  /** `resolvePending` closes an event's dead letter once a re-route has routed it. */
  deadLetters: Pick<DeadLetterStore, 'deadLetter'> & Partial<Pick<DeadLetterStore, 'resolvePending'>>;
  logger: Logger;
  /** Identifies this worker process in ledger leases. */
  workerId: string;
  leaseMs: number;
  backoff: BackoffPolicy;
  metrics?: ProcessorMetrics;
  /** The operators' pauses: an event of a paused source is held, unclaimed, until the pause ends. */
  pauses?: { pausedScope(source: string): Promise<string | undefined>; hold(scope: string, jobId: string): Promise<void> };
}

export type ProcessOutcome =
  { outcome: 'routed'; routing: RoutingDecision; applied: ApplyOutcome } | { outcome: 'duplicate' } | { outcome: 'already-dead-lettered' };

/** Logged when a holder's step finds its claim already taken over (its lease ran out). */
const LEASE_LOST = 'lease expired and another worker took the event over; this attempt leaves the ledger to it';

/** How long to wait before looking again when a failed attempt or a dead letter could not be recorded. */
const RECORD_RETRY_MS = 5000;

function readJob(job: Job<QueuedEvent>): QueuedEvent {
  const parsed = parseShipmentEvent(job.data?.event);
  if (!parsed.ok) {
    throw new JobSchemaError(`job ${job.id} does not hold a valid event: ${parsed.issues.map((i) => i.path).join(', ')}`);
  }
  const reroute = job.data.reroute === undefined ? undefined : rerouteOrderSchema.safeParse(job.data.reroute);
  if (reroute && !reroute.success) throw new JobSchemaError(`job ${job.id} holds an invalid re-route order`);
  return {
    event: parsed.event,
    correlationId: String(job.data.correlationId ?? job.id),
    receivedAt: String(job.data.receivedAt ?? new Date(job.timestamp).toISOString()),
    ...(reroute ? { reroute: reroute.data } : {}),
  };
}

/**
 * Builds the worker's job processor: claim the event in the ledger, look up the shipment,
 * ask the routing service, apply the new state once, complete the ledger entry. What then
 * happens to the job is decided in one place ({@link decideAttempt}): completed, retried with
 * capped, jittered backoff, delayed without using an attempt, or dead-lettered (recorded in
 * Mongo and the Redis DLQ before the job fails).
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

/** Where one attempt runs: the job, the lease owner it claims as, and its log. */
interface AttemptRun {
  deps: ProcessorDependencies;
  job: Job<QueuedEvent>;
  token: string | undefined;
  owner: string;
  log: JobLog;
}

/** What an attempt came to, with what the worker holds to act on the decision. */
interface Attempted {
  result: AttemptResult;
  /** Absent when the job's data is not a valid event. */
  item?: QueuedEvent;
  payloadHash: string;
  /** The ledger entry as this worker claimed it; absent when it holds no claim. */
  claimed?: LedgerEntry;
}

/** Recorded as the payload hash of a job whose event could not be read. */
const UNREADABLE = 'unreadable';

function createAttempt(deps: ProcessorDependencies) {
  return async function attemptEvent(job: Job<QueuedEvent>, token?: string): Promise<ProcessOutcome> {
    const attempt = job.attemptsMade + 1;
    const policy = { maxAttempts: job.opts.attempts ?? 1, backoff: deps.backoff, leaseMs: deps.leaseMs };
    // The correlation id as readJob falls back to it, so no line about the job goes without one.
    const correlationId = String(job.data?.correlationId ?? job.id);
    const log = jobLog(deps.logger, { correlationId, eventId: job.data?.event?.eventId, jobId: job.id, attempt });
    const run: AttemptRun = { deps, job, token, owner: `${deps.workerId}/${token ?? job.id}`, log };
    const attempted = await runAttempt(run);
    return carryOut(decideAttempt(attempted.result, attempt, policy), run, attempted);
  };
}

/** Reads, claims and routes the event; a step that throws ends the attempt with its error, never a throw. */
async function runAttempt(run: AttemptRun): Promise<Attempted> {
  const { deps, job, owner } = run;
  const opened = await settle(() => openEvent(job, deps.breaker));
  if (!opened.ok) return { result: failed(opened.error), payloadHash: UNREADABLE };
  const item = opened.value;
  const pausedScope = await deps.pauses?.pausedScope(item.event.source);
  if (pausedScope !== undefined) {
    // Counted for the operators only: a count that fails to be kept must not stop the hold.
    await deps.pauses!.hold(pausedScope, String(job.id)).catch(() => undefined);
    return { result: { kind: 'paused', scope: pausedScope }, item, payloadHash: UNREADABLE };
  }
  const hashed = await settle(() => payloadHash(item.event));
  if (!hashed.ok) return { result: failed(hashed.error), item, payloadHash: UNREADABLE };
  const hash = hashed.value;
  const claim = await settle(() => deps.ledger.claimEvent({ item, payloadHash: hash, owner, leaseMs: deps.leaseMs }));
  if (!claim.ok) return { result: { kind: 'unclaimed', error: claim.error }, item, payloadHash: hash };
  if (claim.value.kind !== 'claimed') return { result: claim.value, item, payloadHash: hash };
  const claimed = claim.value.entry;
  const routed = await settle(() => routeEvent(run, item, tokenOf(claimed, owner), hash));
  return { result: routed.ok ? routed.value : failed(routed.error), item, payloadHash: hash, claimed };
}

/** The job's event, unless it cannot be read or the routing circuit is open. */
function openEvent(job: Job<QueuedEvent>, breaker: ProcessorDependencies['breaker']): QueuedEvent {
  const item = readJob(job);
  if (breaker?.state === BreakerState.OPEN) throw new CircuitOpenError(breaker.retryAt());
  return item;
}

/**
 * Looks up the shipment, asks the routing service, applies the new state once (for the routing
 * round the claim is in), completes the ledger entry.
 */
async function routeEvent(run: AttemptRun, item: QueuedEvent, claim: ClaimToken, hash: string): Promise<AttemptResult> {
  const { deps } = run;
  const { event, correlationId } = item;
  const shipment = await deps.shipments.getShipment(event.payload.shipmentId);
  const routingStarted = performance.now();
  const routing = await deps.routing.route({ event, shipment, correlationId }).catch((error: unknown) => {
    deps.metrics?.routingCall('error', (performance.now() - routingStarted) / 1000);
    throw error;
  });
  deps.metrics?.routingCall('ok', (performance.now() - routingStarted) / 1000);
  const applied = claim.reroute
    ? await deps.shipments.applyEvent(event, routing, shipment, claim.reroute.round)
    : await deps.shipments.applyEvent(event, routing, shipment);
  if (!(await deps.ledger.markRouted(claim, routing, applied))) {
    run.log.warn('lease expired before completion; the shipment update is idempotent, another worker completes it');
  }
  if (claim.reroute && deps.deadLetters.resolvePending) {
    // A re-routed dead letter is routed now: its record is closed (a replay would find it ROUTED and close it too).
    const recordId = `${event.idempotencyKey}|${hash}`;
    await deps.deadLetters.resolvePending(recordId).catch((error: unknown) => {
      run.log.warn('could not close the dead letter of a re-routed event; the next replay closes it', { error: String(error) });
    });
  }
  return { kind: 'routed', routing, applied, ...(claim.reroute ? { round: claim.reroute.round, requestId: claim.reroute.requestId } : {}) };
}

/** Carries a decision out against the ledger, BullMQ and the dead-letter store. */
async function carryOut(decision: Decision, run: AttemptRun, attempted: Attempted): Promise<ProcessOutcome> {
  switch (decision.kind) {
    case DecisionKind.ROUTED: {
      const round = attempted.result.kind === 'routed' && attempted.result.round ? attempted.result : undefined;
      // A re-route's round says which round and which request, one line per round routed.
      const rerouted = round ? { round: round.round, requestId: round.requestId } : {};
      run.log.info('event routed', { hub: decision.routing.hub, lane: decision.routing.lane, applied: decision.applied, ...rerouted });
      return { outcome: 'routed', routing: decision.routing, applied: decision.applied };
    }
    case DecisionKind.DUPLICATE:
      run.log.info('event already routed; duplicate suppressed');
      return { outcome: 'duplicate' };
    case DecisionKind.ALREADY_DEAD_LETTERED:
      run.log.info('event already dead-lettered; waiting for a replay');
      return { outcome: 'already-dead-lettered' };
    case DecisionKind.WAIT:
      return waitWithoutAttempt(run, attempted.claimed, decision.until, decision.failure);
    case DecisionKind.RETRY:
      return scheduleRetry(run, attempted.claimed, decision);
    case DecisionKind.DEAD_LETTER:
      return recordDeadLetter(run, attempted, decision.reason, decision.failure);
  }
}

/** Hands the claim back and delays the job until `until`, leaving its attempts as they are. */
async function waitWithoutAttempt(
  run: AttemptRun,
  claimed: LedgerEntry | undefined,
  until: number,
  failure: FailureRecord,
): Promise<never> {
  const delayMs = until - Date.now();
  if (claimed && !(await run.deps.ledger.releaseClaim(tokenOf(claimed, run.owner), new Date(until)))) run.log.warn(LEASE_LOST);
  run.log.info('event delayed without using an attempt', { reason: failure.error, detail: failure.message, delayMs });
  await run.job.moveToDelayed(until, run.token);
  throw new DelayedError();
}

/**
 * Records the failure in the ledger and fails the attempt, so BullMQ counts it and retries after
 * `delayMs`; keeps the job, without using the attempt, when the ledger cannot record it.
 */
async function scheduleRetry(run: AttemptRun, claimed: LedgerEntry | undefined, retry: RetryDecision): Promise<never> {
  const { delayMs, failure } = retry;
  const nextAttemptAt = new Date(Date.now() + delayMs);
  run.log.warn('attempt failed; retrying', { error: failure, delayMs, maxAttempts: run.job.opts.attempts ?? 1 });
  try {
    if (claimed && !(await run.deps.ledger.markFailed(tokenOf(claimed, run.owner), failure, nextAttemptAt))) run.log.warn(LEASE_LOST);
  } catch (recordError) {
    // An attempt the ledger has no record of is not used: the job comes back to make it again.
    return keepJob(run, 'could not record the failed attempt; keeping the job to repeat it', recordError, failure);
  }
  // BullMQ hands this error to the backoff strategy, which returns the delay just written to the ledger.
  throw new RetryScheduledError(retry.error, delayMs);
}

/** Records the dead letter, then fails the job for good; keeps the job when the record cannot be written. */
async function recordDeadLetter(run: AttemptRun, attempted: Attempted, reason: DeadLetterReason, failure: FailureRecord): Promise<never> {
  const { deps, job, log } = run;
  const { claimed } = attempted;
  try {
    await deps.deadLetters.deadLetter({
      item: attempted.item ?? fallbackItem(job),
      payloadHash: attempted.payloadHash,
      reason,
      error: { name: failure.error, message: failure.message },
      attempts: failure.attempt,
      attemptHistory: [...(claimed?.attemptHistory ?? []), { ...failure, at: new Date() }],
    });
    // A conflicting payload must not touch the ledger entry of the original event.
    if (claimed && !(await deps.ledger.markDeadLettered(tokenOf(claimed, run.owner), failure))) log.warn(LEASE_LOST);
  } catch (recordError) {
    return keepJob(run, 'could not record the dead letter; keeping the job', recordError, failure);
  }
  log.error('event dead-lettered', { reason, error: failure });
  throw new UnrecoverableError(`${reason}: ${failure.message}`);
}

/** Delays the job without using an attempt when the outcome of this one could not be recorded. */
async function keepJob(run: AttemptRun, message: string, recordError: unknown, failure: FailureRecord): Promise<never> {
  run.log.error(message, { error: describeFailure(recordError, failure.attempt) });
  await run.job.moveToDelayed(Date.now() + RECORD_RETRY_MS, run.token);
  throw new DelayedError();
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** A step's value or the error it raised, so a failure is a result to decide on rather than a jump. */
async function settle<T>(step: () => T | Promise<T>): Promise<Settled<T>> {
  try {
    return { ok: true, value: await step() };
  } catch (error) {
    return { ok: false, error };
  }
}

function failed(error: unknown): AttemptResult {
  return { kind: 'failed', error };
}

type LogAttributes = Record<string, unknown>;
type JobLog = Record<'info' | 'warn' | 'error', (message: string, attributes?: LogAttributes) => void>;

/**
 * The job's keys (correlation id, event, job, attempt) on every line it logs. The shared logger
 * with the keys passed per line, rather than a Powertools child logger per job, which builds a
 * whole logger (about 45 us) for each of hundreds of jobs a second.
 */
function jobLog(logger: Logger, keys: LogAttributes): JobLog {
  return {
    info: (message: string, attributes: LogAttributes = {}) => logger.info(message, { ...keys, ...attributes }),
    warn: (message: string, attributes: LogAttributes = {}) => logger.warn(message, { ...keys, ...attributes }),
    error: (message: string, attributes: LogAttributes = {}) => logger.error(message, { ...keys, ...attributes }),
  };
}

/** What a holder of a ledger claim presents to move the entry on, with the re-route whose round it is in. */
function tokenOf(entry: LedgerEntry, owner: string): ClaimToken {
  const reroute = entry.currentReroute?.round === (entry.routingRound ?? 1) ? entry.currentReroute : undefined;
  return { key: entry._id, owner, round: entry.round ?? 1, attempts: entry.attempts, ...(reroute ? { reroute } : {}) };
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
