import { MongoClient } from 'mongodb';
import type { LedgerEntry } from '../../lib/ledger/ledger';
import { readApplications } from '../../lib/shipments/applications';
import { Collections } from '../../lib/store/mongo';
import { waitFor } from './processes';

export interface Reconciliation {
  expected: number;
  routed: number;
  deadLettered: number;
  other: Record<string, number>;
  missing: string[];
  /** Shipments with an event applied more than once (from the store's version records, see `readApplications`). */
  appliedTwice: string[];
  retried: number;
  /** The most failed attempts any one event has recorded. */
  maxFailures: number;
}

/**
 * Reads the ledger and the shipment store's records straight from Mongo and checks the promises:
 * every accepted event ended ROUTED or DEAD_LETTERED, once, and no event was applied twice.
 */
export async function reconcile(mongoUrl: string, dbName: string, eventIds: string[]): Promise<Reconciliation> {
  const client = await MongoClient.connect(mongoUrl, { serverSelectionTimeoutMS: 5000 });
  try {
    const db = client.db(dbName);
    const entries = await db
      .collection<Pick<LedgerEntry, 'eventId' | 'status' | 'attempts' | 'attemptHistory'>>(Collections.ledger)
      .find({}, { projection: { eventId: 1, status: 1, attempts: 1, attemptHistory: 1 } })
      .toArray();
    const byEvent = new Map(entries.map((e) => [e.eventId, e]));
    const result: Reconciliation = {
      expected: eventIds.length,
      routed: 0,
      deadLettered: 0,
      other: {},
      missing: [],
      appliedTwice: [],
      retried: 0,
      maxFailures: 0,
    };
    for (const id of new Set(eventIds)) {
      const entry = byEvent.get(id);
      if (!entry) result.missing.push(id);
      else if (entry.status === 'ROUTED') result.routed++;
      else if (entry.status === 'DEAD_LETTERED') result.deadLettered++;
      else result.other[entry.status] = (result.other[entry.status] ?? 0) + 1;
      const failures = entry?.attemptHistory?.length ?? 0;
      if (failures > 0) result.retried++;
      result.maxFailures = Math.max(result.maxFailures, failures);
    }
    // From every application on record, not the shipments' histories, which keep only the newest.
    const seen = new Set<string>();
    for (const { eventId, shipmentId } of await readApplications(db)) {
      if (seen.has(eventId) && !result.appliedTwice.includes(shipmentId)) result.appliedTwice.push(shipmentId);
      seen.add(eventId);
    }
    return result;
  } finally {
    await client.close();
  }
}

/** Waits until every event is ROUTED or DEAD_LETTERED, then returns the reconciliation. */
export async function waitUntilSettled(mongoUrl: string, dbName: string, eventIds: string[], timeoutMs = 120_000): Promise<Reconciliation> {
  let last: Reconciliation | undefined;
  try {
    return await waitFor(
      'every event to be ROUTED or DEAD_LETTERED',
      async () => {
        last = await reconcile(mongoUrl, dbName, eventIds);
        return last.routed + last.deadLettered === new Set(eventIds).size ? last : undefined;
      },
      timeoutMs,
      1000,
    );
  } catch (error) {
    throw new Error(`${String(error)}\nlast reconciliation: ${JSON.stringify({ ...last, missing: last?.missing.slice(0, 5) })}`, {
      cause: error,
    });
  }
}
