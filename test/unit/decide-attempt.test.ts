import { describe, expect, it } from 'vitest';
import { DeadLetterReason } from '../../lib/dead-letters/dead-letter-store';
import {
  CircuitOpenError,
  JobSchemaError,
  LeaseHeldError,
  PayloadConflictError,
  ShipmentContentionError,
  TransientRoutingError,
} from '../../lib/errors';
import type { LedgerEntry } from '../../lib/ledger/ledger';
import { BACKOFF_STRATEGY } from '../../lib/queue/names';
import type { RoutingDecision } from '../../lib/routing/types';
import { retryDelayStrategy, RetryScheduledError } from '../../lib/worker/backoff';
import { decideAttempt, DecisionKind, type AttemptResult, type Decision } from '../../lib/worker/decide-attempt';

const NOW = 1_700_000_000_000;
const policy = { maxAttempts: 3, backoff: { baseMs: 1000, maxMs: 10_000, jitter: 0.5 }, leaseMs: 30_000 };

const routing: RoutingDecision = { hub: 'AMS', lane: 'standard', reason: 'nearest', decidedAt: new Date(NOW).toISOString() };
const entry = (leaseUntil: Date | null) => ({ _id: 'key-1', leaseUntil }) as LedgerEntry;
const transient = new TransientRoutingError('503 from routing');

interface Case {
  promise: string;
  result: AttemptResult;
  attempt?: number;
  /** What the clock's `random` returns; 0 (the default) takes no jitter off a backoff and adds none to a circuit wait. */
  random?: number;
  expected: Decision;
}

const cases: Case[] = [
  {
    promise: 'completes a routed event',
    result: { kind: 'routed', routing, applied: 'applied' },
    expected: { kind: DecisionKind.ROUTED, routing, applied: 'applied' },
  },
  {
    promise: 'suppresses an event the ledger shows routed',
    result: { kind: 'done', entry: entry(null) },
    expected: { kind: DecisionKind.DUPLICATE },
  },
  {
    promise: 'leaves an event the ledger shows dead-lettered to a replay',
    result: { kind: 'dead-lettered', entry: entry(null) },
    expected: { kind: DecisionKind.ALREADY_DEAD_LETTERED },
  },
  {
    promise: "waits, without using an attempt, until another worker's lease ends",
    result: { kind: 'busy', entry: entry(new Date(NOW + 5_000)) },
    expected: {
      kind: DecisionKind.WAIT,
      until: NOW + 5_000,
      failure: { attempt: 1, error: 'LeaseHeldError', message: new LeaseHeldError('key-1').message },
    },
  },
  {
    promise: 'waits at least a second for a lease about to end',
    result: { kind: 'busy', entry: entry(new Date(NOW + 10)) },
    expected: { kind: DecisionKind.WAIT, until: NOW + 1_000, failure: expect.objectContaining({ error: 'LeaseHeldError' }) },
  },
  {
    promise: "waits a whole lease when the holder's lease end is unknown",
    result: { kind: 'busy', entry: entry(null) },
    expected: { kind: DecisionKind.WAIT, until: NOW + 30_000, failure: expect.objectContaining({ error: 'LeaseHeldError' }) },
  },
  {
    promise: 'dead-letters a key reused with another payload at once',
    result: { kind: 'conflict', entry: entry(null) },
    expected: {
      kind: DecisionKind.DEAD_LETTER,
      reason: DeadLetterReason.PAYLOAD_CONFLICT,
      failure: { attempt: 1, error: 'PayloadConflictError', message: new PayloadConflictError('key-1').message },
    },
  },
  {
    promise: 'dead-letters a job it cannot read at once',
    result: { kind: 'failed', error: new JobSchemaError('no eventId') },
    expected: {
      kind: DecisionKind.DEAD_LETTER,
      reason: DeadLetterReason.INVALID_JOB,
      failure: { attempt: 1, error: 'JobSchemaError', message: 'no eventId' },
    },
  },
  {
    promise: "waits, without using an attempt, until the routing circuit's cool-down ends",
    result: { kind: 'failed', error: new CircuitOpenError(NOW + 2_000) },
    expected: { kind: DecisionKind.WAIT, until: NOW + 2_000, failure: expect.objectContaining({ error: 'CircuitOpenError' }) },
  },
  {
    promise: 'spreads jobs waiting on the circuit by up to a fifth',
    result: { kind: 'failed', error: new CircuitOpenError(NOW + 2_000) },
    random: 1,
    expected: { kind: DecisionKind.WAIT, until: NOW + 2_400, failure: expect.objectContaining({ error: 'CircuitOpenError' }) },
  },
  {
    promise: 'waits at least 250 ms on a circuit whose cool-down has passed',
    result: { kind: 'failed', error: new CircuitOpenError(NOW - 1_000) },
    expected: { kind: DecisionKind.WAIT, until: NOW + 250, failure: expect.objectContaining({ error: 'CircuitOpenError' }) },
  },
  {
    promise: 'waits a lease, without using an attempt, while another worker changes the shipment',
    result: { kind: 'failed', error: new ShipmentContentionError('S-1') },
    attempt: 3,
    expected: {
      kind: DecisionKind.WAIT,
      until: NOW + 30_000,
      failure: expect.objectContaining({ attempt: 3, error: 'ShipmentContentionError' }),
    },
  },
  {
    promise: 'waits, without using an attempt or dead-lettering, when the ledger does not answer the claim on the last attempt',
    result: { kind: 'unclaimed', error: Object.assign(new Error('connection closed'), { name: 'MongoNetworkError' }) },
    attempt: 3,
    expected: {
      kind: DecisionKind.WAIT,
      until: NOW + 4_000,
      failure: { attempt: 3, error: 'MongoNetworkError', message: 'connection closed' },
    },
  },
  {
    promise: 'retries a transient routing failure after the backoff',
    result: { kind: 'failed', error: transient },
    expected: {
      kind: DecisionKind.RETRY,
      delayMs: 1_000,
      error: transient,
      failure: { attempt: 1, error: 'TransientRoutingError', message: '503 from routing' },
    },
  },
  {
    promise: 'doubles the backoff with each attempt and takes the jitter off it',
    result: { kind: 'failed', error: transient },
    attempt: 2,
    random: 1,
    expected: { kind: DecisionKind.RETRY, delayMs: 1_000, error: transient, failure: expect.objectContaining({ attempt: 2 }) },
  },
  {
    promise: 'retries an unknown failure, even one that is not an Error',
    result: { kind: 'failed', error: 'socket hang up' },
    expected: {
      kind: DecisionKind.RETRY,
      delayMs: 1_000,
      error: 'socket hang up',
      failure: { attempt: 1, error: 'Error', message: 'socket hang up' },
    },
  },
  {
    promise: 'dead-letters a retryable failure on the last attempt',
    result: { kind: 'failed', error: transient },
    attempt: 3,
    expected: {
      kind: DecisionKind.DEAD_LETTER,
      reason: DeadLetterReason.RETRIES_EXHAUSTED,
      failure: { attempt: 3, error: 'TransientRoutingError', message: '503 from routing' },
    },
  },
];

describe('deciding what an attempt came to', () => {
  it.each(cases)('$promise', ({ result, attempt = 1, random = 0, expected }) => {
    expect(decideAttempt(result, attempt, policy, { now: NOW, random: () => random })).toEqual(expected);
  });

  it('covers every kind of decision', () => {
    const kinds = new Set(cases.map((c) => c.expected.kind));
    expect([...kinds].sort()).toEqual(Object.values(DecisionKind).sort());
  });
});

describe('the retry delay BullMQ applies', () => {
  const strategy = retryDelayStrategy(policy.backoff);

  it('is the delay the failed attempt chose and wrote to the ledger', async () => {
    expect(await strategy(1, BACKOFF_STRATEGY, new RetryScheduledError(transient, 1_234))).toBe(1_234);
  });

  it('keeps the original error name and message for the job record', () => {
    expect(new RetryScheduledError(transient, 1_234)).toMatchObject({
      name: 'TransientRoutingError',
      message: '503 from routing',
      cause: transient,
    });
  });

  it('is a capped backoff for any other failure of an event job', async () => {
    const delay = await strategy(2, BACKOFF_STRATEGY, new Error('lost the lock'));
    expect(delay).toBeGreaterThanOrEqual(1_000);
    expect(delay).toBeLessThanOrEqual(2_000);
  });

  it('is no delay for a job that did not ask for this strategy', async () => {
    expect(await strategy(2, 'another-strategy', new Error('x'))).toBe(0);
  });
});
