import { DeadLetterReason } from '../dead-letters/dead-letter-store';
import { CircuitOpenError, LeaseHeldError, PausedError, PayloadConflictError } from '../errors';
import { HOLD_MS } from '../ops/pauses';
import type { ClaimResult, FailureRecord } from '../ledger/ledger';
import type { RoutingDecision } from '../routing/types';
import type { ApplyOutcome } from '../shipments/shipment-store';
import { backoffDelay, type BackoffPolicy } from './backoff';
import { classifyFailure, FailureAction } from './classify-failure';

/**
 * What one attempt came to: the event routed, a claim that went to someone else (routed,
 * dead-lettered, held by a live lease, same key with another payload), a claim the ledger did
 * not answer (`unclaimed`), or the error it raised.
 */
export type AttemptResult =
  /** `round` and `requestId`: the routing round of a re-route. */
  | { kind: 'routed'; routing: RoutingDecision; applied: ApplyOutcome; round?: number; requestId?: string }
  | Exclude<ClaimResult, { kind: 'claimed' }>
  | { kind: 'unclaimed'; error: unknown }
  /** An operator paused the event's source (or every source): it is held, unclaimed. */
  | { kind: 'paused'; scope: string }
  | { kind: 'failed'; error: unknown };

/** What the worker does with a job once its attempt is over. */
export const DecisionKind = {
  ROUTED: 'routed',
  DUPLICATE: 'duplicate',
  ALREADY_DEAD_LETTERED: 'already-dead-lettered',
  /** Come back at `until` without using an attempt. */
  WAIT: 'wait',
  /** Use an attempt and come back after `delayMs`. */
  RETRY: 'retry',
  DEAD_LETTER: 'dead-letter',
} as const;
export type DecisionKind = (typeof DecisionKind)[keyof typeof DecisionKind];

/** A retry carries the error it answers: BullMQ records its name and message on the job. */
export type RetryDecision = { kind: typeof DecisionKind.RETRY; delayMs: number; failure: FailureRecord; error: unknown };

export type Decision =
  | { kind: typeof DecisionKind.ROUTED; routing: RoutingDecision; applied: ApplyOutcome }
  | { kind: typeof DecisionKind.DUPLICATE }
  | { kind: typeof DecisionKind.ALREADY_DEAD_LETTERED }
  | { kind: typeof DecisionKind.WAIT; until: number; failure: FailureRecord }
  | RetryDecision
  | { kind: typeof DecisionKind.DEAD_LETTER; reason: DeadLetterReason; failure: FailureRecord };

export interface RetryPolicy {
  /** The job's attempts, the first included. */
  maxAttempts: number;
  backoff: BackoffPolicy;
  /** A held event is looked at again after this long when its holder's lease end is unknown. */
  leaseMs: number;
}

/** The time and randomness a decision reads, passed in so that deciding stays pure. */
export interface DecisionClock {
  now: number;
  random: () => number;
}

/**
 * Decides, from what attempt number `attempt` came to, what happens to the job: complete it,
 * wait without using an attempt, retry after a backoff, or dead-letter it. Never acts.
 *
 * @example
 * decideAttempt({ kind: 'done', entry }, 1, policy); // { kind: 'duplicate' }
 */
export function decideAttempt(
  result: AttemptResult,
  attempt: number,
  policy: RetryPolicy,
  clock: DecisionClock = { now: Date.now(), random: Math.random },
): Decision {
  switch (result.kind) {
    case 'routed':
      return { kind: DecisionKind.ROUTED, routing: result.routing, applied: result.applied };
    case 'done':
      return { kind: DecisionKind.DUPLICATE };
    case 'dead-lettered':
      return { kind: DecisionKind.ALREADY_DEAD_LETTERED };
    case 'busy': {
      const waitMs = leaseWait(result.entry.leaseUntil, policy.leaseMs, clock.now);
      return {
        kind: DecisionKind.WAIT,
        until: clock.now + waitMs,
        failure: describeFailure(new LeaseHeldError(result.entry._id), attempt),
      };
    }
    case 'unclaimed':
      // The ledger did not answer, so nothing is known of the event: no attempt is used and it is
      // not dead-lettered (a dead letter written now would miss the ledger's history and leave
      // the entry claimed). It comes back after this attempt's backoff.
      return {
        kind: DecisionKind.WAIT,
        until: clock.now + backoffDelay(attempt, policy.backoff, clock.random),
        failure: describeFailure(result.error, attempt),
      };
    case 'paused':
      // Held without using an attempt, and looked at again a little later, spread so held events do not all return at once.
      return {
        kind: DecisionKind.WAIT,
        until: clock.now + Math.round(HOLD_MS * (1 + clock.random() * 0.2)),
        failure: describeFailure(new PausedError(result.scope), attempt),
      };
    case 'conflict':
      return decideFailure(new PayloadConflictError(result.entry._id), attempt, policy, clock);
    case 'failed':
      return decideFailure(result.error, attempt, policy, clock);
  }
}

/** Retry, wait or dead-letter, from the error's class (see {@link classifyFailure}) and the attempts left. */
function decideFailure(error: unknown, attempt: number, policy: RetryPolicy, clock: DecisionClock): Decision {
  const failure = describeFailure(error, attempt);
  const { action, reason } = classifyFailure(error);
  if (action === FailureAction.DELAY) {
    return { kind: DecisionKind.WAIT, until: clock.now + errorWait(error, policy.leaseMs, clock), failure };
  }
  if (action === FailureAction.RETRY && attempt < policy.maxAttempts) {
    return { kind: DecisionKind.RETRY, delayMs: backoffDelay(attempt, policy.backoff, clock.random), failure, error };
  }
  return { kind: DecisionKind.DEAD_LETTER, reason: action === FailureAction.RETRY ? DeadLetterReason.RETRIES_EXHAUSTED : reason, failure };
}

/** One failed attempt as the ledger and the dead-letter store record it. */
export function describeFailure(error: unknown, attempt: number): FailureRecord {
  return error instanceof Error
    ? { attempt, error: error.name, message: error.message }
    : { attempt, error: 'Error', message: String(error) };
}

/** Until another worker's lease expires (at least a second), or a whole lease when its end is unknown. */
function leaseWait(heldUntil: Date | null, leaseMs: number, now: number): number {
  return Math.max(1000, heldUntil ? heldUntil.getTime() - now : leaseMs);
}

/**
 * Until the routing circuit's cool-down ends, spread by up to a fifth so waiting jobs do not all
 * return at once; anything else that waits (a shipment another worker is changing) waits a lease.
 */
function errorWait(error: unknown, leaseMs: number, clock: DecisionClock): number {
  if (error instanceof CircuitOpenError) {
    const wait = Math.max(250, error.retryAt - clock.now);
    return Math.round(wait * (1 + clock.random() * 0.2));
  }
  return leaseWait(null, leaseMs, clock.now);
}
