import type { Db } from 'mongodb';
import { Collections } from '../store/mongo';

/** One application of an event to a shipment: one version of it. */
export interface Application {
  shipmentId: string;
  eventId: string;
  version: number;
}

/** What the shipment store keeps that names the applied events (see `MongoShipmentStore`). */
export interface ApplicationRecords {
  /** Shipments, with the event that created each (version 1). */
  shipments: ReadonlyArray<{ _id: string; firstEventId?: string }>;
  /** Version records: one for every version after the first. */
  versions: ReadonlyArray<{ shipmentId: string; version: number; change: { applied: { eventId: string } } }>;
}

/**
 * Every application the shipment store has on record: each shipment's creation and each later
 * version. The proof of "applied at most once" counts these rather than the ledger, which holds
 * one entry per idempotency key whatever happens, or a shipment's history, which keeps only the
 * newest entries. Complete while the version records are kept (a week, where TTL indexes work).
 */
export function applicationsOf(records: ApplicationRecords): Application[] {
  const created = records.shipments.flatMap((s) =>
    s.firstEventId === undefined ? [] : [{ shipmentId: s._id, eventId: s.firstEventId, version: 1 }],
  );
  const changed = records.versions.map((v) => ({ shipmentId: v.shipmentId, eventId: v.change.applied.eventId, version: v.version }));
  return [...created, ...changed];
}

/**
 * Reads {@link ApplicationRecords} for the shipments whose id starts with `shipmentIdPrefix`
 * (every shipment when empty) and returns their applications. A scan: for audits and tests,
 * not for the request path.
 */
export async function readApplications(db: Db, shipmentIdPrefix = ''): Promise<Application[]> {
  const prefix = { $regex: `^${shipmentIdPrefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}` };
  const [shipments, versions] = await Promise.all([
    db
      .collection<{ _id: string; firstEventId?: string }>(Collections.shipments)
      .find({ _id: prefix }, { projection: { firstEventId: 1 } })
      .toArray(),
    db
      .collection<ApplicationRecords['versions'][number]>(Collections.shipmentVersions)
      .find({ shipmentId: prefix }, { projection: { shipmentId: 1, version: 1, 'change.applied.eventId': 1 } })
      .toArray(),
  ]);
  return applicationsOf({ shipments, versions });
}
