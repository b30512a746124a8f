import {
  CircuitOpenError,
  JobSchemaError,
  LeaseHeldError,
  PayloadConflictError,
  RoutingRejectedError,
  ShipmentContentionError,
} from '../errors';
import { DeadLetterReason } from '../dead-letters/dead-letter-store';

/** What to do with a job whose attempt failed. */
export const FailureAction = {
  /** Try again after the backoff, while attempts remain. */
  RETRY: 'RETRY',
  /** Retrying cannot help: dead-letter now, without burning attempts. */
  DEAD_LETTER: 'DEAD_LETTER',
  /** Not a failure of this event: come back later without using an attempt. */
  DELAY: 'DELAY',
} as const;
export type FailureAction = (typeof FailureAction)[keyof typeof FailureAction];

export interface FailureDecision {
  action: FailureAction;
  reason: DeadLetterReason;
}

/**
 * The one place that decides retry or dead letter, from the error's class. Anything not known
 * to be terminal is retried: an unknown failure costs attempts, never an event.
 */
export function classifyFailure(error: unknown): FailureDecision {
  if (error instanceof PayloadConflictError) {
    return { action: FailureAction.DEAD_LETTER, reason: DeadLetterReason.PAYLOAD_CONFLICT };
  }
  if (error instanceof JobSchemaError) {
    return { action: FailureAction.DEAD_LETTER, reason: DeadLetterReason.INVALID_JOB };
  }
  if (error instanceof RoutingRejectedError) {
    return { action: FailureAction.DEAD_LETTER, reason: DeadLetterReason.ROUTING_REJECTED };
  }
  if (error instanceof LeaseHeldError || error instanceof CircuitOpenError || error instanceof ShipmentContentionError) {
    return { action: FailureAction.DELAY, reason: DeadLetterReason.RETRIES_EXHAUSTED };
  }
  return { action: FailureAction.RETRY, reason: DeadLetterReason.RETRIES_EXHAUSTED };
}
