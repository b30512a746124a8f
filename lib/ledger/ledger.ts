import type { Collection, Db, Filter, UpdateFilter } from 'mongodb';
import type { QueuedEvent, RerouteOrder, ShipmentEvent } from '../events/schema';
import { EventStatus } from '../events/status';
import type { RoutingDecision } from '../routing/types';
import { ExclusiveSteps, stepId } from '../store/exclusive-step';
import { Collections, insertIfAbsent, trimToNewest } from '../store/mongo';

/** Attempts remembered per event; older ones are dropped. */
export const ATTEMPT_HISTORY_LIMIT = 50;

export interface AttemptRecord {
  attempt: number;
  at: Date;
  error: string;
  message: string;
}

/**
 * A routing round after the first, opened by an operator's re-route: which round, the request,
 * why, who (a key id; null through the function) and when it was asked. A finished round is
 * recorded again with its outcome, the routing decision and what it did to the shipment.
 */
export interface RoutingRoundRecord {
  round: number;
  requestId: string;
  reason: string;
  by: string | null;
  at: Date;
  outcome?: typeof EventStatus.ROUTED | typeof EventStatus.DEAD_LETTERED;
  routing?: RoutingDecision;
  /** What the round's routing did to the shipment: `applied` (a new version), `stale` or `already-applied`. */
  applied?: string;
  finishedAt?: Date;
}

/** One row per idempotency key: the proof that an event's effects happened once. */
export interface LedgerEntry {
  _id: string;
  eventId: string;
  source: string;
  eventType: string;
  /** The payload's shipment and order, kept for the operators' search (absent on entries written before it). */
  shipmentId?: string;
  orderId?: string | null;
  payloadHash: string;
  correlationId: string;
  status: EventStatus;
  attempts: number;
  attemptHistory: AttemptRecord[];
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
   * worker moves the entry past a round. (Not the routing round below.)
   */
  round?: number;
  /** The event as accepted, kept so that an operator can re-route it (absent on entries written before re-routing). */
  event?: ShipmentEvent;
  /** Routing round: 1 for the original processing (absent), one more for every re-route. */
  routingRound?: number;
  /** The re-route that opened the current routing round, once there is one. */
  currentReroute?: RoutingRoundRecord;
  /** Every finished re-route round, with its outcome. */
  routingRounds?: RoutingRoundRecord[];
}

/** What a worker holds after a claim: the key, its lease owner id, the round it took and the attempts then. */
export interface ClaimToken {
  key: string;
  owner: string;
  round: number;
  attempts: number;
  /** The re-route whose routing round the claim is in, if any: its completion is added to the round history. */
  reroute?: RoutingRoundRecord;
}

/**
 * What taking a round changes in the entry: applied after the round is taken, or by a
 * roll-forward. Values are absolute and the failure is added as a set member, so applying the
 * change twice leaves the entry as applying it once.
 */
interface RoundChange {
  set: Partial<LedgerEntry>;
  addFailure?: AttemptRecord;
  addRoutingRound?: RoutingRoundRecord;
}

/**
 * One taken round of a ledger entry: the unique record that makes a transition exclusive. It
 * carries the change it makes, so a worker that finds the round taken but the entry not yet
 * written (its taker died in between) can finish the transition.
 */
interface RoundRecord {
  _id: string;
  key: string;
  round: number;
  kind: 'claim' | 'routed' | 'failed' | 'released' | 'dead';
  owner: string;
  at: Date;
  change: RoundChange;
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

/** A re-route's job claims the event for its routing round (`item.reroute`). */
function rerouteOf(request: ClaimRequest): RerouteOrder | undefined {
  return request.item.reroute;
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
  markRouted(claim: ClaimToken, routing: RoutingDecision, applied?: string): Promise<boolean>;
  markFailed(claim: ClaimToken, failure: FailureRecord, nextAttemptAt: Date | null): Promise<boolean>;
  markDeadLettered(claim: ClaimToken, failure: FailureRecord): Promise<boolean>;
  releaseClaim(claim: ClaimToken, nextAttemptAt: Date): Promise<boolean>;
  markQueuedForReplay(key: string, jobId: string): Promise<void>;
  findByEventId(eventId: string): Promise<LedgerEntry | null>;
  findByKey(key: string): Promise<LedgerEntry | null>;
  countByStatus(): Promise<Record<string, number>>;
}

export interface LedgerOptions {
  /** The clock leases are given and judged by, in epoch milliseconds. Default: Date.now. */
  now?: () => number;
}

/** How many times a claim tries to take over an entry whose round it found taken, before it says busy. */
const TAKEOVER_TRIES = 2;

/**
 * The MongoDB adapter of {@link Ledger}.
 *
 * Every transition of an entry after its first claim takes the entry's next round with a unique
 * insert (`<round>@<key>` in the rounds collection), then writes the entry by `_id`. A unique
 * insert is atomic on MongoDB and FerretDB alike, so of a completion, a failure and a takeover
 * racing from the same state exactly one happens; and every read and write names the entry by
 * `_id` alone, the one filter FerretDB 1.24 answers from an index.
 */
export class MongoLedger implements Ledger {
  readonly #ledger: Collection<LedgerEntry>;
  readonly #rounds: ExclusiveSteps<RoundRecord>;
  readonly #now: () => number;

  constructor(db: Db, options: LedgerOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#ledger = db.collection<LedgerEntry>(Collections.ledger);
    this.#rounds = new ExclusiveSteps(db.collection<RoundRecord>(Collections.ledgerRounds), this.#now);
  }

  /**
   * Takes the event for this worker: inserts the entry the first time, or takes it over when it
   * is waiting for a retry or its holder's lease has expired. Everything else (routed,
   * dead-lettered, held by a live lease, same key with another payload) is reported, never
   * treated as a failure.
   */
  async claimEvent(request: ClaimRequest): Promise<ClaimResult> {
    const now = new Date(this.#now());
    const fresh = newEntry(request, now);
    if (await insertIfAbsent(this.#ledger, fresh)) return { kind: 'claimed', entry: fresh };
    // The key is known. A round found taken is rolled forward and the entry read again: at most
    // two tries to take it over, then one last read only says why it is not this worker's.
    const why = (entry: LedgerEntry) => whyNotClaimable(entry, request.payloadHash, now, rerouteOf(request));
    for (let tries = 0; tries < TAKEOVER_TRIES; tries++) {
      const entry = await this.#read(fresh._id);
      const unclaimable = why(entry);
      if (unclaimable) return unclaimable;
      const taken = await this.#takeOver(entry, request, now);
      if (taken) return taken;
    }
    const entry = await this.#read(fresh._id);
    return why(entry) ?? { kind: 'busy', entry };
  }

  async #read(key: string): Promise<LedgerEntry> {
    const entry = await this.#ledger.findOne({ _id: key });
    if (!entry) throw new Error(`ledger entry ${key} vanished during a claim`);
    return entry;
  }

  /**
   * Tries to take the claimable `entry`'s next round for this worker. Null when the round was
   * taken by another and has been rolled forward: the caller reads the entry again.
   */
  async #takeOver(entry: LedgerEntry, request: ClaimRequest, now: Date): Promise<ClaimResult | null> {
    const { owner, leaseMs } = request;
    const round = (entry.round ?? 1) + 1;
    const change: RoundChange = {
      set: {
        status: EventStatus.ROUTING_PENDING,
        leaseOwner: owner,
        leaseUntil: new Date(now.getTime() + leaseMs),
        nextAttemptAt: null,
        updatedAt: now,
        attempts: entry.attempts + 1,
        round,
      },
    };
    const reroute = rerouteOf(request);
    if (reroute && reroute.round > (entry.routingRound ?? 1)) {
      // Opens the re-route's routing round, with a fresh attempt budget.
      const opened: RoutingRoundRecord = { ...reroute, at: new Date(reroute.at) };
      Object.assign(change.set, { attempts: 1, routingRound: reroute.round, currentReroute: opened });
    }
    if (await this.#takeRound(entry._id, round, 'claim', owner, change)) return { kind: 'claimed', entry: { ...entry, ...change.set } };
    if (!(await this.#rollForward(entry._id, round))) return { kind: 'busy', entry };
    return null;
  }

  /**
   * Takes round `round` of the entry with a unique insert and, if this caller got it, applies
   * the change to the entry by `_id`. False when another worker took the round first.
   */
  async #takeRound(key: string, round: number, kind: RoundRecord['kind'], owner: string, change: RoundChange): Promise<boolean> {
    return this.#rounds.take({ _id: stepId(round, key), key, round, kind, owner, change }, () => this.#write({ _id: key }, change));
  }

  /** Writes a round's change to the entry `filter` names by `_id` (and, for a roll-forward, its round). */
  async #write(filter: Filter<LedgerEntry> & { _id: string }, change: RoundChange): Promise<void> {
    const update: UpdateFilter<LedgerEntry> = { $set: change.set };
    const added = {
      ...(change.addFailure ? { attemptHistory: change.addFailure } : {}),
      ...(change.addRoutingRound ? { routingRounds: change.addRoutingRound } : {}),
    };
    if (Object.keys(added).length > 0) update.$addToSet = added;
    await this.#ledger.updateOne(filter, update);
    if (change.addFailure) await trimToNewest(this.#ledger, { _id: filter._id }, 'attemptHistory', ATTEMPT_HISTORY_LIMIT);
  }

  /**
   * A claim found round `round` taken while the entry still showed the round before: its taker
   * is about to write the entry, or died before it could. The round's change is applied here,
   * only to an entry still at the round before (the same change its taker writes, so applying it
   * twice is harmless), and the caller looks again. False when there is no such round.
   */
  async #rollForward(key: string, round: number): Promise<boolean> {
    // Entries written before rounds existed have none: they count as round 1.
    const before = round === 2 ? { $in: [1, null] } : round - 1;
    const found = await this.#rounds.rollForward(stepId(round, key), (record) =>
      this.#write({ _id: key, round: before as never }, record.change),
    );
    return found === 'rolled-forward';
  }

  /**
   * Completes the event; only the holder of the claim can: completing takes the next round,
   * which a takeover of an expired lease would take instead. Returns false when it did.
   */
  async markRouted({ key, owner, round, reroute }: ClaimToken, routing: RoutingDecision, applied?: string): Promise<boolean> {
    const now = new Date(this.#now());
    const change: RoundChange = {
      set: { status: EventStatus.ROUTED, routing, routedAt: now, updatedAt: now, leaseOwner: null, leaseUntil: null, round: round + 1 },
      ...(reroute
        ? { addRoutingRound: { ...reroute, outcome: EventStatus.ROUTED, routing, ...(applied ? { applied } : {}), finishedAt: now } }
        : {}),
    };
    return this.#takeRound(key, round + 1, 'routed', owner, change);
  }

  /** Records a failed attempt and releases the lease so the retry can claim it. False when the lease was lost. */
  async markFailed({ key, owner, round }: ClaimToken, failure: FailureRecord, nextAttemptAt: Date | null): Promise<boolean> {
    const now = new Date(this.#now());
    const change: RoundChange = {
      set: { status: EventStatus.FAILED, leaseOwner: null, leaseUntil: null, nextAttemptAt, updatedAt: now, round: round + 1 },
      addFailure: { ...failure, at: now },
    };
    return this.#takeRound(key, round + 1, 'failed', owner, change);
  }

  /** Gives up on the event: DEAD_LETTERED until an operator replays it. False when the lease was lost. */
  async markDeadLettered({ key, owner, round, reroute }: ClaimToken, failure: FailureRecord): Promise<boolean> {
    const now = new Date(this.#now());
    const change: RoundChange = {
      set: { status: EventStatus.DEAD_LETTERED, leaseOwner: null, leaseUntil: null, deadLetteredAt: now, updatedAt: now, round: round + 1 },
      addFailure: { ...failure, at: now },
      ...(reroute ? { addRoutingRound: { ...reroute, outcome: EventStatus.DEAD_LETTERED, finishedAt: now } } : {}),
    };
    return this.#takeRound(key, round + 1, 'dead', owner, change);
  }

  /**
   * Hands a claimed event back without counting the attempt (the routing circuit was open):
   * it shows QUEUED with the time it will be tried again.
   */
  async releaseClaim({ key, owner, round, attempts }: ClaimToken, nextAttemptAt: Date): Promise<boolean> {
    const change: RoundChange = {
      set: {
        status: EventStatus.QUEUED,
        leaseOwner: null,
        leaseUntil: null,
        nextAttemptAt,
        updatedAt: new Date(this.#now()),
        attempts: attempts - 1,
        round: round + 1,
      },
    };
    return this.#takeRound(key, round + 1, 'released', owner, change);
  }

  /** Makes a dead-lettered event claimable again, with a fresh attempt budget, and records the replay. */
  async markQueuedForReplay(key: string, jobId: string): Promise<void> {
    const now = new Date(this.#now());
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
    const groups = await this.#ledger
      .aggregate<{ _id: string; count: number }>([{ $group: { _id: '$status', count: { $sum: 1 } } }])
      .toArray();
    return Object.fromEntries(groups.map((group) => [group._id, group.count]));
  }
}

/** The entry a first claim inserts. */
function newEntry({ item, payloadHash, owner, leaseMs }: ClaimRequest, now: Date): LedgerEntry {
  return {
    _id: item.event.idempotencyKey,
    eventId: item.event.eventId,
    source: item.event.source,
    eventType: item.event.eventType,
    shipmentId: item.event.payload.shipmentId,
    orderId: item.event.payload.orderId ?? null,
    event: item.event,
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
}

/**
 * Why the known `entry` cannot be claimed for a job, or null when it can. A re-route's job claims
 * it for its routing round: a round the entry is past is done; the entry's own round is claimed
 * as any job's; the next round opens once the entry's round has ended (ROUTED or DEAD_LETTERED),
 * and waits (busy) while it is still under way.
 */
export function whyNotClaimable(
  entry: LedgerEntry,
  payloadHash: string,
  now: Date,
  reroute?: Pick<RerouteOrder, 'round'>,
): ClaimResult | null {
  const current = entry.routingRound ?? 1;
  if (!reroute || reroute.round === current) return whyUnclaimable(entry, payloadHash, now);
  if (entry.payloadHash !== payloadHash) return { kind: 'conflict', entry };
  if (reroute.round < current) return { kind: 'done', entry };
  return entry.status === EventStatus.ROUTED || entry.status === EventStatus.DEAD_LETTERED ? null : { kind: 'busy', entry };
}

/**
 * Why the known `entry` cannot be taken over (another payload, routed, dead-lettered, or held by a
 * live lease), or null when it can: waiting for a retry or its holder's lease expired.
 */
function whyUnclaimable(entry: LedgerEntry, payloadHash: string, now: Date): ClaimResult | null {
  if (entry.payloadHash !== payloadHash) return { kind: 'conflict', entry };
  if (entry.status === EventStatus.ROUTED) return { kind: 'done', entry };
  if (entry.status === EventStatus.DEAD_LETTERED) return { kind: 'dead-lettered', entry };
  const claimable =
    entry.status === EventStatus.QUEUED ||
    entry.status === EventStatus.FAILED ||
    (entry.status === EventStatus.ROUTING_PENDING && (entry.leaseUntil?.getTime() ?? 0) < now.getTime());
  return claimable ? null : { kind: 'busy', entry };
}
