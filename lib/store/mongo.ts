import { MongoClient, MongoServerError, type Collection, type Db, type Document, type Filter, type OptionalUnlessRequiredId, type UpdateFilter } from 'mongodb';

/** Collection names, in one place. */
export const Collections = {
  ledger: 'ledger',
  shipments: 'shipments',
  deadLetters: 'dead_letters',
  /** One document per taken round of a ledger entry (takeover or completion): makes them exclusive. */
  ledgerRounds: 'ledger_rounds',
  /** One document per taken version of a shipment: makes concurrent changes to one shipment exclusive. */
  shipmentVersions: 'shipment_versions',
  /** One document per dead letter and replay round: the atomic claim of a replay. */
  replayClaims: 'dead_letter_replays',
} as const;

/**
 * Connects to MongoDB (or a Mongo-wire server such as FerretDB) with short timeouts, so a
 * dependency outage surfaces as an error the caller can classify instead of a hang.
 */
export async function connectMongo(url: string): Promise<MongoClient> {
  const client = new MongoClient(url, {
    serverSelectionTimeoutMS: 3000,
    connectTimeoutMS: 3000,
    maxPoolSize: 50,
  });
  await client.connect();
  return client;
}

/** How long the records of taken ledger rounds and shipment versions are kept (needed for one lease). */
const TRANSITION_RECORD_TTL_SECONDS = 7 * 24 * 3600;

/**
 * Creates the indexes the gateway relies on. Idempotent; safe to call from every process
 * at start-up. The ledger and dead-letter keys are `_id`, unique by construction.
 */
export async function ensureIndexes(db: Db): Promise<void> {
  await Promise.all([
    expireAfter(db.collection(Collections.ledgerRounds), TRANSITION_RECORD_TTL_SECONDS),
    expireAfter(db.collection(Collections.shipmentVersions), TRANSITION_RECORD_TTL_SECONDS),
    db.collection(Collections.ledger).createIndex({ eventId: 1 }, { name: 'eventId' }),
    db.collection(Collections.ledger).createIndex({ status: 1, updatedAt: 1 }, { name: 'status_updatedAt' }),
    db.collection(Collections.deadLetters).createIndex({ status: 1, lastFailedAt: 1 }, { name: 'status_lastFailedAt' }),
    db.collection(Collections.deadLetters).createIndex({ eventId: 1 }, { name: 'eventId' }),
    db.collection(Collections.deadLetters).createIndex({ source: 1, lastFailedAt: 1 }, { name: 'source_lastFailedAt' }),
    db.collection(Collections.deadLetters).createIndex({ eventType: 1, lastFailedAt: 1 }, { name: 'eventType_lastFailedAt' }),
    db.collection(Collections.deadLetters).createIndex({ reason: 1, lastFailedAt: 1 }, { name: 'reason_lastFailedAt' }),
  ]);
}

/**
 * A TTL index on `at`. FerretDB 1.24 refuses TTL indexes as not implemented: there the records
 * are kept (stated in the README), nothing pretends otherwise.
 */
async function expireAfter(collection: Collection, seconds: number): Promise<void> {
  try {
    await collection.createIndex({ at: 1 }, { name: 'at_ttl', expireAfterSeconds: seconds });
  } catch (error) {
    if (!(error instanceof MongoServerError && (error.code === 238 || /not implemented/i.test(error.message)))) throw error;
  }
}

/** Mongo's duplicate-key error: a concurrent writer got there first, not a failure. */
export function isDuplicateKeyError(error: unknown): boolean {
  return error instanceof MongoServerError && error.code === 11000;
}

/**
 * Inserts `doc` unless its `_id` is taken: true when this caller inserted it, false when another
 * got there first. The gateway's one exclusivity primitive, atomic on MongoDB and FerretDB alike.
 */
export async function insertIfAbsent<T extends Document>(collection: Collection<T>, doc: OptionalUnlessRequiredId<T>): Promise<boolean> {
  try {
    await collection.insertOne(doc);
    return true;
  } catch (error) {
    if (isDuplicateKeyError(error)) return false;
    throw error;
  }
}

/**
 * Keeps only the newest `limit` entries of an array field. Histories are appended with
 * `$addToSet` (so a change written twice adds its entry once), which has no `$slice`, and
 * FerretDB 1.24 ignores `$slice` anyway: the oldest entries are popped here instead.
 */
export async function trimToNewest<T extends Document>(
  collection: Collection<T>,
  filter: Filter<T>,
  field: string,
  limit: number,
): Promise<void> {
  const doc = (await collection.findOne(filter, { projection: { [field]: 1 } })) as Record<string, unknown> | null;
  const list = doc?.[field];
  const excess = Array.isArray(list) ? list.length - limit : 0;
  for (let i = 0; i < excess; i++) {
    await collection.updateOne(filter, { $pop: { [field]: -1 } } as unknown as UpdateFilter<T>);
  }
}
