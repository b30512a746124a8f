import { Logger } from '@aws-lambda-powertools/logger';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { TransientRoutingError } from '../../lib/errors';
import { parseShipmentEvent, type QueuedEvent } from '../../lib/events/schema';
import type { Ledger, LedgerEntry } from '../../lib/ledger/ledger';
import { createEventProcessor } from '../../lib/worker/process-event';
import { sampleEvent } from '../../scripts/sample-event';

/** A job on its last attempt, recording where the processor sends it. */
function lastAttemptJob(attemptsMade = 2) {
  const parsed = parseShipmentEvent(sampleEvent());
  if (!parsed.ok) throw new Error('bad sample');
  const moves: number[] = [];
  const job = {
    id: 'j-1',
    data: { event: parsed.event, correlationId: 'c', receivedAt: new Date().toISOString() },
    attemptsMade,
    opts: { attempts: 3 },
    timestamp: Date.now(),
    moveToDelayed: async (at: number) => void moves.push(at),
  } as unknown as Job<QueuedEvent>;
  return { job, moves };
}

const entry = { _id: 'k', attemptHistory: [], leaseUntil: null } as unknown as LedgerEntry;
const ledger = {
  claimEvent: async () => ({ kind: 'claimed', entry }),
  markFailed: async () => true,
  markDeadLettered: async () => true,
  releaseClaim: async () => true,
} as unknown as Ledger;

function processorWith(deadLetter: () => Promise<string>, ledgerChanges: Partial<Ledger> = {}) {
  return createEventProcessor({
    ledger: { ...ledger, ...ledgerChanges },
    shipments: { getShipment: async () => null, applyEvent: async () => 'applied' },
    routing: { route: async () => Promise.reject(new TransientRoutingError('503')) },
    deadLetters: { deadLetter },
    logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
    workerId: 'w',
    leaseMs: 1000,
    backoff: { baseMs: 10, maxMs: 100, jitter: 0 },
  });
}

describe('the last failed attempt', () => {
  it('records the dead letter before the job fails for good', async () => {
    const order: string[] = [];
    const { job } = lastAttemptJob();
    const process = processorWith(async () => {
      order.push('dead letter recorded');
      return 'id';
    });
    await expect(process(job, 'token')).rejects.toBeInstanceOf(UnrecoverableError);
    expect(order).toEqual(['dead letter recorded']);
  });

  it('keeps the job, without using an attempt, when the dead letter cannot be recorded', async () => {
    const { job, moves } = lastAttemptJob();
    const process = processorWith(async () => Promise.reject(new Error('Mongo is down')));
    await expect(process(job, 'token')).rejects.toBeInstanceOf(DelayedError);
    expect(moves).toHaveLength(1);
    expect(moves[0]).toBeGreaterThan(Date.now());
  });

  it('neither dead-letters nor uses the attempt when the ledger does not answer the claim', async () => {
    const { job, moves } = lastAttemptJob();
    let deadLetters = 0;
    const process = processorWith(
      async () => {
        deadLetters++;
        return 'id';
      },
      { claimEvent: async () => Promise.reject(new Error('Mongo is down')) },
    );
    await expect(process(job, 'token')).rejects.toBeInstanceOf(DelayedError);
    expect(deadLetters).toBe(0);
    expect(moves).toHaveLength(1);
  });
});

describe('a failed attempt before the last', () => {
  it('keeps the job, without using the attempt, when the ledger cannot record the failure', async () => {
    const { job, moves } = lastAttemptJob(0);
    const process = processorWith(async () => 'id', { markFailed: async () => Promise.reject(new Error('Mongo is down')) });
    await expect(process(job, 'token')).rejects.toBeInstanceOf(DelayedError);
    expect(moves).toHaveLength(1);
  });
});
