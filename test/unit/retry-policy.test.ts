import { describe, expect, it } from 'vitest';
import { DeadLetterReason } from '../../lib/dead-letters/dead-letter-store';
import { JobSchemaError, LeaseHeldError, PayloadConflictError, ShipmentContentionError, TransientRoutingError } from '../../lib/errors';
import { backoffDelay } from '../../lib/worker/backoff';
import { classifyFailure, FailureAction } from '../../lib/worker/classify-failure';

const policy = { baseMs: 1000, maxMs: 10_000, jitter: 0.5 };

describe('retry backoff', () => {
  it('doubles the delay with each attempt, without jitter at the top of its range', () => {
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, policy, () => 0))).toEqual([1000, 2000, 4000, 8000]);
  });

  it('never waits longer than the cap', () => {
    expect(backoffDelay(30, policy, () => 0)).toBe(10_000);
  });

  it('takes up to the jitter share off, so failures do not retry in lock-step', () => {
    expect(backoffDelay(3, policy, () => 1)).toBe(2000);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(3000);
    const samples = new Set(Array.from({ length: 50 }, () => backoffDelay(3, policy)));
    expect(samples.size).toBeGreaterThan(1);
    for (const delay of samples) expect(delay).toBeGreaterThanOrEqual(2000);
  });
});

describe('failure classification', () => {
  it('retries routing failures and anything unknown', () => {
    expect(classifyFailure(new TransientRoutingError('503')).action).toBe(FailureAction.RETRY);
    expect(classifyFailure(new Error('socket hang up')).action).toBe(FailureAction.RETRY);
  });

  it('dead-letters a payload conflict and a job it cannot read at once', () => {
    expect(classifyFailure(new PayloadConflictError('k'))).toEqual({
      action: FailureAction.DEAD_LETTER,
      reason: DeadLetterReason.PAYLOAD_CONFLICT,
    });
    expect(classifyFailure(new JobSchemaError('bad'))).toEqual({ action: FailureAction.DEAD_LETTER, reason: DeadLetterReason.INVALID_JOB });
  });

  it('delays, without using an attempt, an event another worker holds', () => {
    expect(classifyFailure(new LeaseHeldError('k')).action).toBe(FailureAction.DELAY);
  });

  it('delays, without using an attempt, an event whose shipment another worker is changing', () => {
    expect(classifyFailure(new ShipmentContentionError('S-1')).action).toBe(FailureAction.DELAY);
  });
});
