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
  /**
   * Claim round: 1 for the first claim, one more for every takeover or completion. Each round
   * after the first is taken with a unique insert into the rounds collection, so exactly one
   * worker moves the entry past a round.
   */
  round?: number;
}

/** What a worker holds after a claim: the key, its lease owner id and the round it took. */
export interface ClaimToken {
  key: string;
  owner: string;
  round: number;
}

/** One taken round of a ledger entry: a takeover claim, or the completion of the round before. */
interface RoundRecord {
  _id: string;
  key: string;
  round: number;
  kind: 'claim' | 'routed';
  owner: string;
  at: Date;
  routing?: RoutingDecision;
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
  markRouted(claim: ClaimToken, routing: RoutingDecision): Promise<boolean>;
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
  readonly #rounds: Collection<RoundRecord>;

  constructor(db: Db) {
    this.#ledger = db.collection<LedgerEntry>(Collections.ledger);
    this.#rounds = db.collection<RoundRecord>(Collections.ledgerRounds);
  }

  /**
   * Takes the event for this worker, atomically: inserts the entry the first time, or takes
   * it over when it is waiting for a retry or its holder's lease has expired. Everything
   * else (routed, dead-lettered, held by a live lease, same key with another payload) is
   * reported, never treated as a failure.
   *
   * Every write on the common path names the entry by `_id` alone (a plain insert first), so
   * it stays cheap on servers that only use the `_id` index for such filters (FerretDB 1.24).
   */
  async claimEvent({ item, payloadHash, owner, leaseMs }: ClaimRequest): Promise<ClaimResult> {
    const now = new Date();
    const key = item.event.idempotencyKey;
    const fresh: LedgerEntry = {
      _id: key,
      eventId: item.event.eventId,
      source: item.event.source,
      eventType: item.event.eventType,
      payloadHash,
      correlationId: item.correlationId,
      status: EventStatus.ROUTING_PENDING,
      attempts: 1,
      attemptHistory: [],
      leaseOwner: owner,
      leaseUntil: new Date(now.getTime() + leaseMs),
      receivedAt: new Date(item.receivedAt),
      firstSeenAt: now,
      updatedAt: now,
      nextAttemptAt: null,
      round: 1,
    };
    try {
      await this.#ledger.insertOne(fresh);
      return { kind: 'claimed', entry: fresh };
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
    }
    // The key is known: take it over if it is waiting for a retry or its lease has expired.
    const taken = await this.#ledger.findOneAndUpdate(
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
        $inc: { attempts: 1, round: 1 },
      },
      { returnDocument: 'after' },
    );
    if (taken) {
      // The conditional update is atomic on MongoDB but not on FerretDB, so the takeover is
      // confirmed by taking its round with a unique insert; the loser of a race backs off.
      const round = taken.round ?? 1;
      if (await this.#takeRound(key, round, { kind: 'claim', owner })) return { kind: 'claimed', entry: taken };
      return (await this.#rollForward(key, round)) ?? { kind: 'busy', entry: taken };
    }
    // The key exists and was not claimable: say why.
    const entry = await this.#ledger.findOne({ _id: key });
    if (!entry) throw new Error(`ledger entry ${key} vanished during a claim`);
    if (entry.payloadHash !== payloadHash) return { kind: 'conflict', entry };
    if (entry.status === EventStatus.ROUTED) return { kind: 'done', entry };
    if (entry.status === EventStatus.DEAD_LETTERED) return { kind: 'dead-lettered', entry };
    return { kind: 'busy', entry };
  }

  /** Takes a round of an entry with a unique insert; false when another worker took it first. */
  async #takeRound(key: string, round: number, record: Pick<RoundRecord, 'kind' | 'owner' | 'routing'>): Promise<boolean> {
    try {
      await this.#rounds.insertOne({ _id: `${round}@${key}`, key, round, at: new Date(), ...record });
      return true;
    } catch (error) {
      if (isDuplicateKeyError(error)) return false;
      throw error;
    }
  }

  /**
   * A takeover found its round already taken. If the holder of the round before completed it
   * (and perhaps died before writing the entry), the entry is brought up to date and reported
   * done; otherwise another worker holds the event.
   */
  async #rollForward(key: string, round: number): Promise<ClaimResult | null> {
    const record = await this.#rounds.findOne({ _id: `${round}@${key}` });
    if (record?.kind !== 'routed' || !record.routing) return null;
    const entry = await this.#writeRouted(key, round, record.routing, record.at);
    return entry ? { kind: 'done', entry } : null;
  }

  async #writeRouted(key: string, round: number, routing: RoutingDecision, routedAt: Date): Promise<LedgerEntry | null> {
    return this.#ledger.findOneAndUpdate(
      { _id: key },
      {
        $set: { status: EventStatus.ROUTED, routing, routedAt, updatedAt: new Date(), leaseOwner: null, leaseUntil: null, round },
      },
      { returnDocument: 'after' },
    );
  }

  /**
   * Completes the event; only the holder of the claim can: completing takes the next round,
   * which a takeover of an expired lease would take instead. Returns false when it did.
   */
  async markRouted({ key, owner, round }: ClaimToken, routing: RoutingDecision): Promise<boolean> {
    const next = round + 1;
    if (!(await this.#takeRound(key, next, { kind: 'routed', owner, routing }))) return false;
    await this.#writeRouted(key, next, routing, new Date());
    return true;
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
