import type { Collection, Db } from 'mongodb';
import { Collections, insertIfAbsent } from '../store/mongo';

/** One selected event of a confirmed re-route: the routing round it is given and the job that carries it. */
export interface RerouteItem {
  eventId: string;
  /** The ledger entry's id: the event's idempotency key. */
  key: string;
  round: number;
  jobId: string;
}

/** An event a re-route did not select, and why. */
export interface SkippedEvent {
  eventId: string;
  why: string;
}

/** A confirmed re-route request, kept under its request id: what was asked, by whom, and what it queued. */
export interface RerouteRecord {
  /** The request id: the idempotency key of the request. */
  _id: string;
  /** See `rerouteFingerprint`: the same id with another fingerprint is another request (409). */
  fingerprint: string;
  reason: string;
  by: string | null;
  via: string;
  request: Record<string, unknown>;
  createdAt: Date;
  ratePerSecond: number;
  matched: number;
  items: RerouteItem[];
  skipped: SkippedEvent[];
  /** When every item's job was queued; null while queuing. */
  queuedAt: Date | null;
}

/**
 * The `reroutes` collection: one record per confirmed re-route, created with a unique insert
 * under its request id, so of two identical requests arriving at once one queues and the other
 * reports the first one's progress.
 */
export class RerouteStore {
  readonly #records: Collection<RerouteRecord>;

  constructor(db: Db) {
    this.#records = db.collection<RerouteRecord>(Collections.reroutes);
  }

  async find(requestId: string): Promise<RerouteRecord | null> {
    return this.#records.findOne({ _id: requestId });
  }

  /** True when this caller created the record; false when the request id was taken first. */
  async create(record: RerouteRecord): Promise<boolean> {
    return insertIfAbsent(this.#records, record);
  }

  async markQueued(requestId: string, at: Date): Promise<void> {
    await this.#records.updateOne({ _id: requestId }, { $set: { queuedAt: at } });
  }
}
