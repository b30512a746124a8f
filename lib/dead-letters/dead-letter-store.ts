import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Collection, Db } from 'mongodb';
import type { QueuedEvent } from '../events/schema';
import type { AttemptRecord } from '../ledger/ledger';
import { DEAD_LETTER_QUEUE, jobIdFor } from '../queue/names';
import { Collections } from '../store/mongo';

/** Why an event was dead-lettered. */
export const DeadLetterReason = {
  RETRIES_EXHAUSTED: 'RETRIES_EXHAUSTED',
  PAYLOAD_CONFLICT: 'PAYLOAD_CONFLICT',
  INVALID_JOB: 'INVALID_JOB',
} as const;
export type DeadLetterReason = (typeof DeadLetterReason)[keyof typeof DeadLetterReason];

export const DeadLetterState = { PENDING: 'PENDING', REPLAYED: 'REPLAYED' } as const;
export type DeadLetterState = (typeof DeadLetterState)[keyof typeof DeadLetterState];

export interface ReplayRecord {
  at: Date;
  jobId: string;
}

/** Everything an operator needs to understand a failure and replay it. */
export interface DeadLetterRecord {
  /** `<idempotencyKey>|<payloadHash>`: a conflicting payload gets a record of its own. */
  _id: string;
  idempotencyKey: string;
  eventId: string;
  source: string;
  eventType: string;
  item: QueuedEvent;
  reason: DeadLetterReason;
  error: { name: string; message: string };
  attempts: number;
  attemptHistory: AttemptRecord[];
  firstFailedAt: Date;
  lastFailedAt: Date;
  status: DeadLetterState;
  replayCount: number;
  replays: ReplayRecord[];
}

export interface DeadLetterInput {
  item: QueuedEvent;
  payloadHash: string;
  reason: DeadLetterReason;
  error: { name: string; message: string };
  attempts: number;
  attemptHistory: AttemptRecord[];
}

/** The job kept in the Redis dead-letter queue: a pointer to the Mongo record. */
export interface DeadLetterJob {
  recordId: string;
  item: QueuedEvent;
}

/**
 * Dead letters live in two places: a Mongo record (full history, queryable) and a job in the
 * Redis dead-letter queue (what replay drains). The record is written first, so a failed event
 * is never nowhere.
 */
export class DeadLetterStore {
  readonly #records: Collection<DeadLetterRecord>;
  readonly queue: Queue<DeadLetterJob>;

  constructor(db: Db, connection: Redis, prefix: string) {
    this.#records = db.collection<DeadLetterRecord>(Collections.deadLetters);
    this.queue = new Queue<DeadLetterJob>(DEAD_LETTER_QUEUE, { connection, prefix });
  }

  /** Records the failure and parks the event in the dead-letter queue. Idempotent. */
  async deadLetter(input: DeadLetterInput): Promise<string> {
    const now = new Date();
    const { item } = input;
    const recordId = `${item.event.idempotencyKey}|${input.payloadHash}`;
    await this.#records.updateOne(
      { _id: recordId },
      {
        $set: {
          idempotencyKey: item.event.idempotencyKey,
          eventId: item.event.eventId,
          source: item.event.source,
          eventType: item.event.eventType,
          item,
          reason: input.reason,
          error: input.error,
          attempts: input.attempts,
          attemptHistory: input.attemptHistory,
          lastFailedAt: now,
          status: DeadLetterState.PENDING,
        },
        $setOnInsert: { firstFailedAt: now, replayCount: 0, replays: [] },
      },
      { upsert: true },
    );
    const record = await this.#records.findOne({ _id: recordId }, { projection: { replayCount: 1 } });
    await this.queue.add(
      'dead-letter',
      { recordId, item },
      // One DLQ job per record and replay round: a retried dead-lettering adds nothing twice.
      { jobId: `${jobIdFor(recordId)}-d${record?.replayCount ?? 0}`, removeOnComplete: true },
    );
    return recordId;
  }

  async findRecord(recordId: string): Promise<DeadLetterRecord | null> {
    return this.#records.findOne({ _id: recordId });
  }

  async markReplayed(recordId: string, jobId: string): Promise<void> {
    await this.#records.updateOne(
      { _id: recordId },
      {
        $set: { status: DeadLetterState.REPLAYED },
        $inc: { replayCount: 1 },
        $push: { replays: { at: new Date(), jobId } },
      },
    );
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
