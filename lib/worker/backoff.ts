/** The name jobs carry in `backoff.type` to select {@link backoffDelay}. */
export const BACKOFF_STRATEGY = 'capped-exponential';

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
