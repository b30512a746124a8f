import type { Collection, Db } from 'mongodb';
import type { QueuedEvent } from '../events/schema';
import { EventStatus } from '../events/status';
import type { RoutingDecision } from '../routing/types';
import { Collections, isDuplicateKeyError, trimToNewest } from '../store/mongo';

/** Attempts remembered per event; older ones are dropped. */
export const ATTEMPT_HISTORY_LIMIT = 50;

export interface AttemptRecord {
  attempt: number;
  at: Date;
  error: string;
  message: string;
}

/** One row per idempotency key: the proof that an event's effects happened once. */
export interface LedgerEntry {
  _id: string;
  eventId: string;
  source: string;
  eventType: string;
  payloadHash: string;
  correlationId: string;
  status: EventStatus;
  attempts: number;
  /** Absent until the first failure on some Mongo-wire servers. */
  attemptHistory?: AttemptRecord[];
  leaseOwner: string | null;
  leaseUntil: Date | null;
  receivedAt: Date;
  firstSeenAt: Date;
  updatedAt: Date;
  nextAttemptAt?: Date | null;
  routedAt?: Date;
  routing?: RoutingDecision;
  deadLetteredAt?: Date;
  replayCount?: number;
  replays?: Array<{ at: Date; jobId: string }>;
}

/** Why a claim did not give this worker the event. */
export type ClaimResult =
  | { kind: 'claimed'; entry: LedgerEntry }
  | { kind: 'done'; entry: LedgerEntry }
  | { kind: 'dead-lettered'; entry: LedgerEntry }
  | { kind: 'busy'; entry: LedgerEntry }
  | { kind: 'conflict'; entry: LedgerEntry };

export interface ClaimRequest {
  item: QueuedEvent;
  payloadHash: string;
  owner: string;
  leaseMs: number;
}

/** One failed attempt: which attempt it was, the error class and its message. */
export interface FailureRecord {
  attempt: number;
  error: string;
  message: string;
}

/** Port: the idempotency ledger. */
export interface Ledger {
  claimEvent(request: ClaimRequest): Promise<ClaimResult>;
  markRouted(key: string, owner: string, routing: RoutingDecision): Promise<boolean>;
  markFailed(key: string, owner: string, failure: FailureRecord, nextAttemptAt: Date | null): Promise<void>;
  markDeadLettered(key: string, failure: FailureRecord | null): Promise<void>;
  releaseClaim(key: string, owner: string, nextAttemptAt: Date): Promise<void>;
  markQueuedForReplay(key: string, jobId: string): Promise<void>;
  findByEventId(eventId: string): Promise<LedgerEntry | null>;
  findByKey(key: string): Promise<LedgerEntry | null>;
  countByStatus(): Promise<Record<string, number>>;
}

/** The MongoDB adapter of {@link Ledger}. */
export class MongoLedger implements Ledger {
  readonly #ledger: Collection<LedgerEntry>;
  readonly #claims: Collection<{ _id: string; at: Date }>;

  constructor(db: Db) {
    this.#ledger = db.collection<LedgerEntry>(Collections.ledger);
    this.#claims = db.collection<{ _id: string; at: Date }>(Collections.ledgerTakeovers);
  }

  /**
   * Takes the event for this worker, atomically: inserts the entry the first time, or takes
   * it over when it is waiting for a retry or its holder's lease has expired. Everything
   * else (routed, dead-lettered, held by a live lease, same key with another payload) is
   * reported, never treated as a failure.
   */
  async claimEvent({ item, payloadHash, owner, leaseMs }: ClaimRequest): Promise<ClaimResult> {
    const now = new Date();
    const key = item.event.idempotencyKey;
    try {
      const result = await this.#ledger.findOneAndUpdate(
        {
          _id: key,
          payloadHash,
          $or: [
            { status: { $in: [EventStatus.QUEUED, EventStatus.FAILED] } },
            { status: EventStatus.ROUTING_PENDING, leaseUntil: { $lt: now } },
          ],
        },
        {
          $set: {
            status: EventStatus.ROUTING_PENDING,
            leaseOwner: owner,
            leaseUntil: new Date(now.getTime() + leaseMs),
            nextAttemptAt: null,
            updatedAt: now,
          },
          $inc: { attempts: 1 },
          $setOnInsert: {
            eventId: item.event.eventId,
            source: item.event.source,
            eventType: item.event.eventType,
            correlationId: item.correlationId,
            receivedAt: new Date(item.receivedAt),
            firstSeenAt: now,
            attemptHistory: [],
          },
        },
        { upsert: true, returnDocument: 'after', includeResultMetadata: true },
      );
      const entry = result.value;
      if (entry) {
        // A first claim inserted the entry under its unique key: atomic everywhere. Taking over
        // an existing entry is atomic on MongoDB but not on FerretDB, so that claim is confirmed
        // by an insert under a unique key for this claim round; the loser of a race backs off.
        if (!result.lastErrorObject?.updatedExisting || (await this.#confirmTakeover(entry))) return { kind: 'claimed', entry };
        return { kind: 'busy', entry };
      }
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
    }
    // The key exists and was not claimable: say why.
    const entry = await this.#ledger.findOne({ _id: key });
    if (!entry) throw new Error(`ledger entry ${key} vanished during a claim`);
    if (entry.payloadHash !== payloadHash) return { kind: 'conflict', entry };
    if (entry.status === EventStatus.ROUTED) return { kind: 'done', entry };
    if (entry.status === EventStatus.DEAD_LETTERED) return { kind: 'dead-lettered', entry };
    return { kind: 'busy', entry };
  }

  async #confirmTakeover(entry: LedgerEntry): Promise<boolean> {
    try {
      await this.#claims.insertOne({ _id: `${entry._id}#${entry.replayCount ?? 0}#${entry.attempts}`, at: new Date() });
      return true;
    } catch (error) {
      if (isDuplicateKeyError(error)) return false;
      throw error;
    }
  }

  /** Completes the event; only the lease holder can. Returns false when the lease was lost. */
  async markRouted(key: string, owner: string, routing: RoutingDecision): Promise<boolean> {
    const now = new Date();
    const result = await this.#ledger.updateOne(
      { _id: key, leaseOwner: owner, status: EventStatus.ROUTING_PENDING },
      {
        $set: { status: EventStatus.ROUTED, routing, routedAt: now, updatedAt: now, leaseOwner: null, leaseUntil: null },
      },
    );
    return result.matchedCount === 1;
  }

  /** Records a failed attempt and releases the lease so the retry can claim it. */
  async markFailed(key: string, owner: string, failure: FailureRecord, nextAttemptAt: Date | null): Promise<void> {
    const now = new Date();
    await this.#ledger.updateOne(
      { _id: key, leaseOwner: owner },
      {
        $set: { status: EventStatus.FAILED, leaseOwner: null, leaseUntil: null, nextAttemptAt, updatedAt: now },
        $push: {
          attemptHistory: {
            $each: [{ ...failure, at: now }],
            $slice: -ATTEMPT_HISTORY_LIMIT,
          },
        },
      },
    );
    await trimToNewest(this.#ledger, { _id: key }, 'attemptHistory', ATTEMPT_HISTORY_LIMIT);
  }

  async markDeadLettered(key: string, failure: FailureRecord | null): Promise<void> {
    const now = new Date();
    await this.#ledger.updateOne(
      { _id: key },
      {
        $set: { status: EventStatus.DEAD_LETTERED, leaseOwner: null, leaseUntil: null, deadLetteredAt: now, updatedAt: now },
        ...(failure
          ? {
              $push: {
                attemptHistory: {
                  $each: [{ ...failure, at: now }],
                  $slice: -ATTEMPT_HISTORY_LIMIT,
                },
              },
            }
          : {}),
      },
    );
    await trimToNewest(this.#ledger, { _id: key }, 'attemptHistory', ATTEMPT_HISTORY_LIMIT);
  }

  /**
   * Hands a claimed event back without counting the attempt (the routing circuit was open):
   * it shows QUEUED with the time it will be tried again.
   */
  async releaseClaim(key: string, owner: string, nextAttemptAt: Date): Promise<void> {
    await this.#ledger.updateOne(
      { _id: key, leaseOwner: owner, status: EventStatus.ROUTING_PENDING },
      {
        $set: { status: EventStatus.QUEUED, leaseOwner: null, leaseUntil: null, nextAttemptAt, updatedAt: new Date() },
        $inc: { attempts: -1 },
      },
    );
  }

  /** Makes a dead-lettered event claimable again, with a fresh attempt budget, and records the replay. */
  async markQueuedForReplay(key: string, jobId: string): Promise<void> {
    const now = new Date();
    await this.#ledger.updateOne(
      { _id: key, status: EventStatus.DEAD_LETTERED },
      {
        $set: { status: EventStatus.QUEUED, attempts: 0, nextAttemptAt: null, updatedAt: now },
        $inc: { replayCount: 1 },
        $push: { replays: { at: now, jobId } },
      },
    );
  }

  async findByEventId(eventId: string): Promise<LedgerEntry | null> {
    return this.#ledger.findOne({ eventId }, { sort: { updatedAt: -1 } });
  }

  async findByKey(key: string): Promise<LedgerEntry | null> {
    return this.#ledger.findOne({ _id: key });
  }

  async countByStatus(): Promise<Record<string, number>> {
    const groups = await this.#ledger.aggregate<{ _id: string; count: number }>([{ $group: { _id: '$status', count: { $sum: 1 } } }]).toArray();
    return Object.fromEntries(groups.map((group) => [group._id, group.count]));
  }
}
