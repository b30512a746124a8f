import {
  MongoBulkWriteError,
  MongoClient,
  MongoServerError,
  type Collection,
  type Db,
  type Document,
  type Filter,
  type IndexDescription,
  type OptionalUnlessRequiredId,
  type UpdateFilter,
  type WriteError,
} from 'mongodb';

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
  /** One document per operator action: who did what, when, and how it ended. */
  audit: 'audit',
  /** One document per confirmed re-route request, by its request id: what it selected and queued. */
  reroutes: 'reroutes',
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

/**
 * The ledger's indexes that serve the search on MongoDB: each filter field first, then the
 * received time the results are sorted and windowed by, so a filter plus a window is one index
 * range read newest first. FerretDB uses only `_id` and answers the same queries by scanning
 * (`npm run bench:search` measures it). `ensureIndexes` creates them.
 */
export const EVENT_SEARCH_INDEXES: readonly IndexDescription[] = [
  { key: { receivedAt: -1, _id: -1 }, name: 'search_receivedAt' },
  ...(['shipmentId', 'orderId', 'source', 'eventType', 'status'] as const).map((field) => ({
    key: { [field]: 1, receivedAt: -1, _id: -1 },
    name: `search_${field}_receivedAt`,
  })),
];

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
    // One createIndex each: FerretDB 1.24 drops the connection on a createIndexes of several that exist already.
    ...EVENT_SEARCH_INDEXES.map(({ key, name }) => db.collection(Collections.ledger).createIndex(key, { name })),
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
export async function expireAfter<T extends Document>(collection: Collection<T>, seconds: number): Promise<void> {
  try {
    await collection.createIndex({ at: 1 }, { name: 'at_ttl', expireAfterSeconds: seconds });
  } catch (error) {
    if (!(error instanceof MongoServerError && (error.code === 238 || /not implemented/i.test(error.message)))) throw error;
  }
}

const DUPLICATE_KEY = 11000;

/** Mongo's duplicate-key error: a concurrent writer got there first, not a failure. */
export function isDuplicateKeyError(error: unknown): boolean {
  return error instanceof MongoServerError && error.code === DUPLICATE_KEY;
}

/** At most this many documents go to the server in one coalesced insert. */
const MAX_INSERT_BATCH = 100;

interface PendingInsert {
  doc: Document;
  settle: (inserted: boolean) => void;
  fail: (error: unknown) => void;
}

/** The inserts asked for on each collection during the current turn of the event loop. */
const pendingInserts = new Map<Collection<Document>, PendingInsert[]>();

/**
 * Inserts `doc` unless its `_id` is taken: true when this caller inserted it, false when another
 * got there first. The gateway's one exclusivity primitive, atomic on MongoDB and FerretDB alike.
 *
 * The inserts that concurrent jobs ask for on one collection in the same turn of the event loop
 * go to the server together as one unordered `insertMany`: one round trip and one server
 * transaction for up to a hundred documents instead of one each. Each document still succeeds
 * or meets a duplicate key on its own, and each caller learns its own outcome; a document alone
 * goes with `insertOne`. (Updates are not batched: FerretDB 1.24 stalls on concurrent
 * multi-document update commands.)
 */
export function insertIfAbsent<T extends Document>(collection: Collection<T>, doc: OptionalUnlessRequiredId<T>): Promise<boolean> {
  const key = collection as unknown as Collection<Document>;
  let pending = pendingInserts.get(key);
  if (!pending) {
    pending = [];
    pendingInserts.set(key, pending);
    setImmediate(() => {
      const batch = pendingInserts.get(key) ?? [];
      pendingInserts.delete(key);
      for (let i = 0; i < batch.length; i += MAX_INSERT_BATCH) void insertBatch(key, batch.slice(i, i + MAX_INSERT_BATCH));
    });
  }
  const queue = pending;
  return new Promise<boolean>((settle, fail) => queue.push({ doc, settle, fail }));
}

/** Sends one batch of {@link insertIfAbsent} and settles each caller with its own document's outcome. */
async function insertBatch(collection: Collection<Document>, batch: PendingInsert[]): Promise<void> {
  try {
    if (batch.length === 1) await collection.insertOne(batch[0]!.doc);
    else
      await collection.insertMany(
        batch.map((item) => item.doc),
        { ordered: false },
      );
    for (const item of batch) item.settle(true);
  } catch (error) {
    const writeErrors =
      error instanceof MongoBulkWriteError && error.err === undefined ? ([] as WriteError[]).concat(error.writeErrors ?? []) : [];
    if (batch.length === 1 && isDuplicateKeyError(error)) {
      batch[0]!.settle(false);
      return;
    }
    if (writeErrors.length === 0) {
      // Nothing says which documents were written: every caller gets the error, as it would have
      // alone; a retried claim finds its own earlier insert like any other (busy until its lease ends).
      for (const item of batch) item.fail(error);
      return;
    }
    const byIndex = new Map(writeErrors.map((writeError) => [writeError.index, writeError]));
    batch.forEach((item, index) => {
      const writeError = byIndex.get(index);
      if (!writeError) item.settle(true);
      else if (writeError.code === DUPLICATE_KEY) item.settle(false);
      else item.fail(new MongoServerError({ message: writeError.errmsg ?? 'insert failed', code: writeError.code }));
    });
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
