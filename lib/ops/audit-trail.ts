import { createHash, randomUUID } from 'node:crypto';
import type { Collection, Db, Filter } from 'mongodb';
import { Collections, expireAfter } from '../store/mongo';
import { decodeTimeCursor, encodeTimeCursor } from '../store/time-cursor';

/** How an audited action ended. */
export const AuditOutcome = {
  SUCCEEDED: 'SUCCEEDED',
  FAILED: 'FAILED',
} as const;
export type AuditOutcome = (typeof AuditOutcome)[keyof typeof AuditOutcome];

/** One operator action: who, through what, asking what, how many events it matched, how it ended. */
export interface AuditRecord {
  _id: string;
  at: Date;
  /** The first 8 hex digits of the SHA-256 of the operator key used; null when none was (a function invoked with AWS credentials). */
  keyId: string | null;
  /** The route (`POST /v1/ops/dlq/replay`) or the function (`function replay`). */
  via: string;
  /** What was done: `replay`, ... */
  action: string;
  /** The request as the action parsed it: filter, ids, reason, dry run. */
  request: Record<string, unknown>;
  dryRun: boolean;
  /** Events the action selected (or, in a dry run, would have). */
  matched: number;
  outcome: AuditOutcome;
  /** Why it failed, when it did. */
  error?: string;
}

export type AuditEntry = Omit<AuditRecord, '_id' | 'at' | 'outcome' | 'matched' | 'error'>;

export interface AuditFilter {
  action?: string;
  keyId?: string;
  from?: Date;
  to?: Date;
}

/** The audit collection's TTL index, by database, once created (or while being created). */
const TTL_INDEXES = new WeakMap<Db, Promise<void>>();

/**
 * A key's id in the audit trail: enough to tell keys apart and to find which one acted, never
 * enough to use it.
 *
 * @example
 * keyIdOf('my-operator-key'); // 8 hex digits
 */
export function keyIdOf(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

/**
 * The operators' audit trail in Mongo: every action recorded once it ends, kept
 * `retentionDays` (a TTL index on `at`; FerretDB has no TTL expiry and keeps them), listed newest
 * first a page at a time.
 *
 * @example
 * const report = await trail.audited({ keyId, via: 'POST /v1/ops/dlq/replay', action: 'replay', request, dryRun }, run, (r) => r.replayed.length);
 */
export class AuditTrail {
  readonly #records: Collection<AuditRecord>;
  readonly #db: Db;
  readonly #retentionSeconds: number;

  constructor(db: Db, options: { retentionDays: number }) {
    this.#db = db;
    this.#records = db.collection<AuditRecord>(Collections.audit);
    this.#retentionSeconds = options.retentionDays * 24 * 3600;
  }

  /** Runs `action` and records it, however it ends; a failure is recorded, then rethrown. */
  async audited<T>(entry: AuditEntry, action: () => Promise<T>, matched: (result: T) => number): Promise<T> {
    let result: T;
    try {
      result = await action();
    } catch (error) {
      await this.record({
        ...entry,
        matched: 0,
        outcome: AuditOutcome.FAILED,
        error: error instanceof Error ? error.message : String(error),
      });
      throw error;
    }
    await this.record({ ...entry, matched: matched(result), outcome: AuditOutcome.SUCCEEDED });
    return result;
  }

  async record(record: Omit<AuditRecord, '_id' | 'at'>): Promise<AuditRecord> {
    await this.#ttlIndex();
    const stored: AuditRecord = { _id: randomUUID(), at: new Date(), ...record };
    await this.#records.insertOne(stored);
    return stored;
  }

  /**
   * The TTL index, created once per database connection: a trail is made per action (it is
   * cheap), the index round trip is not repeated with it. A failure is forgotten, to be tried again.
   */
  #ttlIndex(): Promise<void> {
    let created = TTL_INDEXES.get(this.#db);
    if (!created) {
      created = expireAfter(this.#records, this.#retentionSeconds).catch((error: unknown) => {
        TTL_INDEXES.delete(this.#db);
        throw error;
      });
      TTL_INDEXES.set(this.#db, created);
    }
    return created;
  }

  /** Records matching the filter, newest first; the cursor is the last record's time and id. */
  async list(filter: AuditFilter, page: { limit: number; cursor?: string }): Promise<{ items: AuditRecord[]; nextCursor?: string }> {
    const query: Filter<AuditRecord> = {};
    if (filter.action) query.action = filter.action;
    if (filter.keyId) query.keyId = filter.keyId;
    if (filter.from || filter.to) query.at = { ...(filter.from ? { $gte: filter.from } : {}), ...(filter.to ? { $lte: filter.to } : {}) };
    if (page.cursor) {
      const [at, id] = decodeTimeCursor(page.cursor);
      query.$or = [{ at: { $lt: at } }, { at, _id: { $lt: id } }];
    }
    const records = await this.#records
      .find(query)
      .sort({ at: -1, _id: -1 })
      .limit(page.limit + 1)
      .toArray();
    const items = records.slice(0, page.limit);
    const last = items.at(-1);
    return { items, ...(records.length > page.limit && last ? { nextCursor: encodeTimeCursor(last.at, last._id) } : {}) };
  }
}
