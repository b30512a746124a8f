import type { Db, MongoClient } from 'mongodb';
import { connectionConfig, type ConnectionConfig } from './config';
import type { DeadLetterStore } from './dead-letters/dead-letter-store';
import { BullEventQueue } from './queue/event-queue';
import { createRedis, type RedisClient, type RedisRole } from './queue/redis';
import type { SecretName } from './secrets/secret-parameters';
import { sharedSecrets } from './secrets/shared-secrets';

/**
 * Clients shared by every invocation in one Lambda container (or one worker process): created
 * on first use, reused afterwards, never per request.
 */
let config: Promise<ConnectionConfig> | undefined;
const redisByRole = new Map<RedisRole, RedisClient>();
let mongo: Promise<{ client: MongoClient; db: Db }> | undefined;
let eventQueue: BullEventQueue | undefined;
let deadLetters: DeadLetterStore | undefined;

const CONNECTION_SECRETS: readonly SecretName[] = ['REDIS_URL', 'MONGO_URL'];

/**
 * Where Redis and Mongo are. Their URLs carry credentials, so they come from the secrets
 * provider (SSM parameters in a cloud stage), once, when the first client connects: a changed
 * URL applies to new containers. A missing URL rejects (MissingSecretError, a 503) and is
 * asked again on the next call.
 */
export async function sharedConfig(): Promise<ConnectionConfig> {
  config ??= sharedSecrets()
    .get(CONNECTION_SECRETS)
    .then(({ redisUrl, mongoUrl }) => connectionConfig(undefined, { redisUrl, mongoUrl }));
  try {
    return await config;
  } catch (error) {
    config = undefined;
    throw error;
  }
}

export async function sharedRedis(role: RedisRole): Promise<RedisClient> {
  const existing = redisByRole.get(role);
  if (existing) return existing;
  const connection = await sharedConfig();
  // Another caller may have made it while this one waited.
  let redis = redisByRole.get(role);
  if (!redis) {
    redis = createRedis(connection, role);
    redisByRole.set(role, redis);
  }
  return redis;
}

/** The events queue, for producers (ingest, status, replay). */
export async function sharedEventQueue(): Promise<BullEventQueue> {
  if (eventQueue) return eventQueue;
  const { queuePrefix, jobAttempts } = await sharedConfig();
  const connection = await sharedRedis('producer');
  eventQueue ??= new BullEventQueue({ connection, prefix: queuePrefix, attempts: jobAttempts });
  return eventQueue;
}

/** The dead-letter records and queue, for the operator functions: one per container, not per request. */
export async function sharedDeadLetters(): Promise<DeadLetterStore> {
  if (deadLetters) return deadLetters;
  const db = await sharedDb();
  const redis = await sharedRedis('producer');
  const { DeadLetterStore } = await import('./dead-letters/dead-letter-store');
  deadLetters ??= new DeadLetterStore(db, redis, (await sharedConfig()).queuePrefix);
  return deadLetters;
}

/** The database, connected and indexed once; a failed connection is retried on the next call. */
export async function sharedDb(): Promise<Db> {
  mongo ??= (async () => {
    const { mongoUrl, mongoDb } = await sharedConfig();
    // Loaded on first use: the ingest function never touches Mongo, and evaluating the driver
    // would lengthen its cold start (see `npm run bench:lambda`).
    const { connectMongo, ensureIndexes } = await import('./store/mongo');
    const client = await connectMongo(mongoUrl);
    const db = client.db(mongoDb);
    await ensureIndexes(db);
    return { client, db };
  })();
  try {
    return (await mongo).db;
  } catch (error) {
    mongo = undefined;
    throw error;
  }
}

/** Closes every shared client (the worker's shutdown, test teardown). Safe to call twice. */
export async function closeShared(): Promise<void> {
  const queue = eventQueue;
  const store = deadLetters;
  eventQueue = undefined;
  deadLetters = undefined;
  config = undefined; // a reconnection reads the URLs again
  await Promise.allSettled([queue?.close(), store?.close()]);
  const pending: Promise<unknown>[] = [...redisByRole.values()].map((redis) => redis.quit().catch(() => redis.disconnect()));
  redisByRole.clear();
  if (mongo) {
    const current = mongo;
    mongo = undefined;
    pending.push(current.then(({ client }) => client.close()).catch(() => undefined));
  }
  await Promise.allSettled(pending);
}
