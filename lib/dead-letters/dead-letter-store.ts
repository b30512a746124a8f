import { Queue } from 'bullmq';
import type { Collection, Db, Filter } from 'mongodb';
import type { QueuedEvent } from '../events/schema';
import type { AttemptRecord } from '../ledger/ledger';
import { DEAD_LETTER_QUEUE, jobIdFor } from '../queue/names';
import type { RedisClient } from '../queue/redis';
import { decodeTimeCursor, encodeTimeCursor } from '../store/time-cursor';
import { ExclusiveSteps } from '../store/exclusive-step';
import { Collections } from '../store/mongo';

/** Why an event was dead-lettered. */
export const DeadLetterReason = {
  RETRIES_EXHAUSTED: 'RETRIES_EXHAUSTED',
  PAYLOAD_CONFLICT: 'PAYLOAD_CONFLICT',
  INVALID_JOB: 'INVALID_JOB',
  /** The routing service refused the event (a 4xx): retrying would get the same answer. */
  ROUTING_REJECTED: 'ROUTING_REJECTED',
} as const;
export type DeadLetterReason = (typeof DeadLetterReason)[keyof typeof DeadLetterReason];

/**
 * PENDING: waiting for an operator; REPLAYING: a replay has taken it (for at most
 * {@link REPLAY_CLAIM_MS}); REPLAYED: back on the main queue; RESOLVED: dropped by a replay
 * because the event had been routed after all, or routed by a re-route.
 */
export const DeadLetterState = { PENDING: 'PENDING', REPLAYING: 'REPLAYING', REPLAYED: 'REPLAYED', RESOLVED: 'RESOLVED' } as const;
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
  replayClaimedAt?: Date;
}

export interface DeadLetterInput {
  item: QueuedEvent;
  payloadHash: string;
  reason: DeadLetterReason;
  error: { name: string; message: string };
  attempts: number;
  attemptHistory: AttemptRecord[];
}

/** Which dead letters an operator means: every field narrows the selection. */
export interface DeadLetterFilter {
  eventIds?: string[];
  source?: string;
  eventType?: string;
  reason?: DeadLetterReason;
  failedFrom?: Date;
  failedTo?: Date;
  status?: DeadLetterState;
}

export interface DeadLetterPage {
  items: DeadLetterRecord[];
  /** Pass back as `cursor` for the next page; absent on the last page. */
  nextCursor?: string;
}

/** A replay's hold on a record; a replay that died lets go after this. */
export const REPLAY_CLAIM_MS = 5 * 60_000;

/** The job kept in the Redis dead-letter queue: derived from a PENDING Mongo record, pointing at it. */
export interface DeadLetterJob {
  recordId: string;
  item: QueuedEvent;
}

/**
 * Dead letters are Mongo records: the truth (full history, queryable, claimed by replays), and
 * what listing, counts and replay read. Each PENDING record also has a job in the Redis queue
 * `events-dlq`, derived from it: added after the record is written, removed when a replay
 * replays or resolves the record. Nothing reads those jobs but the ops stats' `queued` count.
 */
export class DeadLetterStore {
  readonly #records: Collection<DeadLetterRecord>;
  readonly #claims: Collection<{ _id: string; at: Date }>;
  readonly queue: Queue<DeadLetterJob>;

  constructor(db: Db, connection: RedisClient, prefix: string) {
    this.#records = db.collection<DeadLetterRecord>(Collections.deadLetters);
    this.#claims = db.collection<{ _id: string; at: Date }>(Collections.replayClaims);
    this.queue = new Queue<DeadLetterJob>(DEAD_LETTER_QUEUE, { connection, prefix });
  }

  /** Records the failure, then adds the record's derived job to the Redis dead-letter queue. Idempotent. */
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

  /**
   * Dead letters matching the filter (PENDING unless a status is given), oldest failure first,
   * a page at a time: the cursor is the last item's failure time and id.
   */
  async list(filter: DeadLetterFilter, page: { limit: number; cursor?: string }): Promise<DeadLetterPage> {
    const query = toQuery(filter);
    if (page.cursor) {
      const [at, id] = decodeTimeCursor(page.cursor);
      query.$or = [{ lastFailedAt: { $gt: at } }, { lastFailedAt: at, _id: { $gt: id } }];
    }
    const items = await this.#records
      .find(query)
      .sort({ lastFailedAt: 1, _id: 1 })
      .limit(page.limit + 1)
      .toArray();
    const more = items.length > page.limit;
    const shown = items.slice(0, page.limit);
    const last = shown.at(-1);
    return { items: shown, ...(more && last ? { nextCursor: encodeTimeCursor(last.lastFailedAt, last._id) } : {}) };
  }

  /** How many dead letters match, by reason code. */
  async countByReason(filter: DeadLetterFilter): Promise<Record<string, number>> {
    const groups = await this.#records
      .aggregate<{ _id: string; count: number }>([{ $match: toQuery(filter) }, { $group: { _id: '$reason', count: { $sum: 1 } } }])
      .toArray();
    return Object.fromEntries(groups.map((group) => [group._id, group.count]));
  }

  /**
   * Takes a record for one replay, atomically: of two replays running at once, only one gets
   * it. A hold older than {@link REPLAY_CLAIM_MS} (its replay died) can be taken over.
   */
  async claimForReplay(recordId: string): Promise<DeadLetterRecord | null> {
    const now = new Date();
    const current = await this.#records.findOne({ _id: recordId });
    if (!current) return null;
    // The claim itself is an insert under a unique key (record and replay round): atomic on
    // MongoDB and on FerretDB alike, whose conditional updates are not atomic across connections.
    const claimId = `${recordId}#${current.replayCount}`;
    const claims = new ExclusiveSteps(this.#claims, () => now.getTime());
    if (!(await claims.take({ _id: claimId }))) {
      if (!(await claims.freeAbandoned(claimId, REPLAY_CLAIM_MS))) return null;
      return this.claimForReplay(recordId);
    }
    const claimed = await this.#records.findOneAndUpdate(
      {
        _id: recordId,
        $or: [
          { status: DeadLetterState.PENDING },
          { status: DeadLetterState.REPLAYING, replayClaimedAt: { $lt: new Date(now.getTime() - REPLAY_CLAIM_MS) } },
        ],
      },
      { $set: { status: DeadLetterState.REPLAYING, replayClaimedAt: now } },
      { returnDocument: 'after' },
    );
    // Not claimable after all (replayed meanwhile): leave no claim behind for a later round.
    if (!claimed) await claims.free(claimId);
    return claimed;
  }

  /** Lets go of a claimed record without replaying it. */
  async releaseReplay(recordId: string): Promise<void> {
    const record = await this.#records.findOneAndUpdate(
      { _id: recordId, status: DeadLetterState.REPLAYING },
      { $set: { status: DeadLetterState.PENDING } },
      { returnDocument: 'after' },
    );
    if (record) await this.#claims.deleteOne({ _id: `${recordId}#${record.replayCount}` });
  }

  /** Records that the dead letter went back to the main queue as `jobId`, and drops its derived DLQ job. */
  async markReplayed(record: DeadLetterRecord, jobId: string): Promise<void> {
    await this.#records.updateOne(
      { _id: record._id },
      {
        $set: { status: DeadLetterState.REPLAYED },
        $inc: { replayCount: 1 },
        $push: { replays: { at: new Date(), jobId } },
      },
    );
    await this.#removeQueued(record);
  }

  /** The event was routed after all: nothing to replay, the dead letter is closed. */
  async markResolved(record: DeadLetterRecord): Promise<void> {
    await this.#records.updateOne({ _id: record._id }, { $set: { status: DeadLetterState.RESOLVED } });
    await this.#removeQueued(record);
  }

  /**
   * Closes a PENDING dead letter as RESOLVED: its event was routed by a re-route. A record a
   * replay holds (REPLAYING) is left to the replay, which finds the event ROUTED and closes it.
   */
  async resolvePending(recordId: string): Promise<boolean> {
    const record = await this.#records.findOne({ _id: recordId });
    if (record?.status !== DeadLetterState.PENDING) return false;
    await this.markResolved(record);
    return true;
  }

  async #removeQueued(record: DeadLetterRecord): Promise<void> {
    await this.queue.remove(`${jobIdFor(record._id)}-d${record.replayCount}`).catch(() => 0);
  }

  /** PENDING dead letters, for stats. */
  async pendingCount(): Promise<number> {
    return this.#records.countDocuments({ status: DeadLetterState.PENDING });
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}

function toQuery(filter: DeadLetterFilter): Filter<DeadLetterRecord> {
  const query: Filter<DeadLetterRecord> = { status: filter.status ?? DeadLetterState.PENDING };
  if (filter.eventIds?.length) query.eventId = { $in: filter.eventIds };
  if (filter.source) query.source = filter.source;
  if (filter.eventType) query.eventType = filter.eventType;
  if (filter.reason) query.reason = filter.reason;
  if (filter.failedFrom || filter.failedTo) {
    query.lastFailedAt = {
      ...(filter.failedFrom ? { $gte: filter.failedFrom } : {}),
      ...(filter.failedTo ? { $lte: filter.failedTo } : {}),
    };
  }
  return query;
}
