import type { BackoffStrategy } from 'bullmq';
import { BACKOFF_STRATEGY } from '../queue/names';

export interface BackoffPolicy {
  /** Delay before the first retry, before jitter. */
  baseMs: number;
  /** No delay is longer than this. */
  maxMs: number;
  /** 0..1: the share of the delay that is randomised (1 = full jitter). */
  jitter: number;
}

/**
 * Exponential backoff with a cap and jitter: `min(max, base * 2^(n-1))`, of which a random part
 * up to `jitter` is taken off, so a burst of failures does not retry in lock-step.
 *
 * @example
 * backoffDelay(3, { baseMs: 1000, maxMs: 60_000, jitter: 0.5 }); // between 2000 and 4000
 */
export function backoffDelay(attemptsMade: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exponent = Math.max(0, attemptsMade - 1);
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
  return Math.round(ceiling * (1 - policy.jitter * random()));
}

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

/**
 * The worker's BullMQ `backoffStrategy`. BullMQ counts an attempt only when the processor throws,
 * and hands the strategy that error: so a retry's delay, chosen by the attempt and written to the
 * ledger, comes back here in a {@link RetryScheduledError}. Any other failure of a job carrying
 * {@link BACKOFF_STRATEGY} gets a fresh capped backoff.
 */
export function retryDelayStrategy(policy: BackoffPolicy): BackoffStrategy {
  return (attemptsMade, type, error) => {
    if (error instanceof RetryScheduledError) return error.retryDelayMs;
    if (type !== BACKOFF_STRATEGY) return 0;
    return backoffDelay(attemptsMade, policy);
  };
}
