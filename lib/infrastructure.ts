import type { Redis } from 'ioredis';
import type { Db, MongoClient } from 'mongodb';
import { connectionConfig, type ConnectionConfig } from './config';
import { DeadLetterStore } from './dead-letters/dead-letter-store';
import { BullEventQueue } from './queue/event-queue';
import { createRedis, type RedisRole } from './queue/redis';
import { connectMongo, ensureIndexes } from './store/mongo';

/**
 * Clients shared by every invocation in one Lambda container (or one worker process): created
 * on first use, reused afterwards, never per request.
 */
let config: ConnectionConfig | undefined;
const redisByRole = new Map<RedisRole, Redis>();
let mongo: Promise<{ client: MongoClient; db: Db }> | undefined;
let eventQueue: BullEventQueue | undefined;
let deadLetters: DeadLetterStore | undefined;

export function sharedConfig(): ConnectionConfig {
  config ??= connectionConfig();
  return config;
}

export function sharedRedis(role: RedisRole): Redis {
  let redis = redisByRole.get(role);
  if (!redis) {
    redis = createRedis(sharedConfig().redisUrl, role);
    redisByRole.set(role, redis);
  }
  return redis;
}

/** The events queue, for producers (ingest, status, replay). */
export function sharedEventQueue(): BullEventQueue {
  const { queuePrefix, jobAttempts } = sharedConfig();
  eventQueue ??= new BullEventQueue({ connection: sharedRedis('producer'), prefix: queuePrefix, attempts: jobAttempts });
  return eventQueue;
}

/** The dead-letter records and queue, for the operator functions: one per container, not per request. */
export async function sharedDeadLetters(): Promise<DeadLetterStore> {
  const db = await sharedDb();
  deadLetters ??= new DeadLetterStore(db, sharedRedis('producer'), sharedConfig().queuePrefix);
  return deadLetters;
}

/** The database, connected and indexed once; a failed connection is retried on the next call. */
export async function sharedDb(): Promise<Db> {
  mongo ??= (async () => {
    const { mongoUrl, mongoDb } = sharedConfig();
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
