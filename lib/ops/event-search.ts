import type { Collection, Db, Filter } from 'mongodb';
import type { EventStatus } from '../events/status';
import type { LedgerEntry } from '../ledger/ledger';
import { statusViewOf, type EventStatusView } from '../status/event-status';
import { Collections } from '../store/mongo';
import { decodeTimeCursor, encodeTimeCursor } from '../store/time-cursor';

/** What an operator can look events up by; every field optional, all given must match. */
export interface EventSearchFilter {
  shipmentId?: string;
  orderId?: string;
  source?: string;
  eventType?: string;
  status?: EventStatus;
  /** Received at or after. */
  from?: Date;
  /** Received at or before. */
  to?: Date;
}

export interface EventSearchPage {
  /** Newest first. */
  items: EventStatusView[];
  /** Pass back as `cursor` for the next page; absent on the last page. */
  nextCursor?: string;
  /** How many events match the filter (all pages), by status. */
  countsByStatus: Record<string, number>;
}

/**
 * The operators' look-up of any event the worker has taken up (an event still waiting in the
 * queue is not in the ledger yet: its status route finds it through the queue), newest first,
 * a page at a time, with the counts by status of everything the filter matches.
 *
 * @example
 * const page = await new EventSearch(db).search({ shipmentId: 'SHP-4411', from: new Date(Date.now() - 3_600_000) }, { limit: 50 });
 */
export class EventSearch {
  readonly #ledger: Collection<LedgerEntry>;

  constructor(db: Db) {
    this.#ledger = db.collection<LedgerEntry>(Collections.ledger);
  }

  async search(filter: EventSearchFilter, page: { limit: number; cursor?: string }): Promise<EventSearchPage> {
    const query = toQuery(filter);
    const paged: Filter<LedgerEntry> = { ...query };
    if (page.cursor) {
      const [at, id] = decodeTimeCursor(page.cursor);
      paged.$and = [{ $or: [{ receivedAt: { $lt: at } }, { receivedAt: at, _id: { $lt: id } }] }];
    }
    const [entries, groups] = await Promise.all([
      this.#ledger
        .find(paged)
        .sort({ receivedAt: -1, _id: -1 })
        .limit(page.limit + 1)
        .toArray(),
      this.#ledger
        .aggregate<{ _id: string; count: number }>([{ $match: query }, { $group: { _id: '$status', count: { $sum: 1 } } }])
        .toArray(),
    ]);
    const shown = entries.slice(0, page.limit);
    const last = shown.at(-1);
    return {
      items: shown.map(statusViewOf),
      ...(entries.length > page.limit && last ? { nextCursor: encodeTimeCursor(last.receivedAt, last._id) } : {}),
      countsByStatus: Object.fromEntries(groups.map((group) => [group._id, group.count])),
    };
  }
}

/**
 * The ledger entries themselves, for an operator action over a selection (the re-route): those
 * the filter matches whose status is one of `statuses`, oldest received first, at most `limit`.
 */
export async function selectEntries(
  db: Db,
  filter: EventSearchFilter,
  statuses: readonly EventStatus[],
  limit: number,
): Promise<LedgerEntry[]> {
  const query = toQuery(filter);
  if (!filter.status) query.status = { $in: [...statuses] };
  return db.collection<LedgerEntry>(Collections.ledger).find(query).sort({ receivedAt: 1, _id: 1 }).limit(limit).toArray();
}

/** Every ledger entry of the given event ids (an id two sources used names two events). */
export async function entriesByEventId(db: Db, eventIds: readonly string[]): Promise<LedgerEntry[]> {
  return db
    .collection<LedgerEntry>(Collections.ledger)
    .find({ eventId: { $in: [...eventIds] } })
    .toArray();
}

function toQuery(filter: EventSearchFilter): Filter<LedgerEntry> {
  const query: Filter<LedgerEntry> = {};
  const { shipmentId, orderId, source, eventType, status } = filter;
  Object.assign(
    query,
    Object.fromEntries(Object.entries({ shipmentId, orderId, source, eventType, status }).filter(([, value]) => value !== undefined)),
  );
  if (filter.from || filter.to) {
    query.receivedAt = { ...(filter.from ? { $gte: filter.from } : {}), ...(filter.to ? { $lte: filter.to } : {}) };
  }
  return query;
}
