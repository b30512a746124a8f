import type { Db, MongoClient } from 'mongodb';
import { connectionConfig, type ConnectionConfig, type WorkerConfig } from './config';
import type { DeadLetterStore } from './dead-letters/dead-letter-store';
import { BullEventQueue } from './queue/event-queue';
import { createRedis, type RedisClient, type RedisRole } from './queue/redis';
import { HttpRoutingService } from './routing/http-routing-service';
import { RuntimeSettings } from './routing/runtime-settings';
import { SimulatedRoutingService } from './routing/simulated-routing-service';
import type { RoutingService } from './routing/types';
import { withDeadline } from './routing/with-deadline';
import type { SecretName } from './secrets/secret-parameters';

/**
 * The composition root of the Lambdas and the worker alike: clients shared by every invocation
 * in one Lambda container (or by one worker process), created on first use, connected, reused
 * afterwards (never per request) and passed in to the code in `lib/`. Adapters are chosen here:
 * which routing service the worker calls, which store holds dead letters.
 */
let config: Promise<ConnectionConfig> | undefined;
const redisByRole = new Map<RedisRole, RedisClient>();
let mongo: Promise<{ client: MongoClient; db: Db }> | undefined;
let eventQueue: BullEventQueue | undefined;
const deadLettersByRole = new Map<RedisRole, DeadLetterStore>();
let routing: { service: RoutingService; close(): void } | undefined;

const CONNECTION_SECRETS: readonly SecretName[] = ['REDIS_URL', 'MONGO_URL'];

/**
 * Where Redis and Mongo are. Their URLs carry credentials, so they come from the secrets
 * provider (SSM parameters in a cloud stage), once, when the first client connects: a changed
 * URL applies to new containers. A missing URL rejects (MissingSecretError, a 503) and is
 * asked again on the next call.
 */
export async function sharedConfig(): Promise<ConnectionConfig> {
  // Loaded on first use: the worker gives its URLs to `useConnectionConfig` and ships without
  // the AWS SDK the SSM provider needs.
  config ??= import('./secrets/shared-secrets')
    .then(({ sharedSecrets }) => sharedSecrets().get(CONNECTION_SECRETS))
    .then(({ redisUrl, mongoUrl }) => connectionConfig(undefined, { redisUrl, mongoUrl }));
  try {
    return await config;
  } catch (error) {
    config = undefined;
    throw error;
  }
}

/**
 * Makes the clients connect to `connection` instead of asking the secrets provider: the
 * worker's URLs are in its environment (ECS injects them from SSM), read once at start-up.
 */
export function useConnectionConfig(connection: ConnectionConfig): void {
  config = Promise.resolve(connection);
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

/**
 * The dead-letter store, for the operator functions (on the producer connection) and the
 * worker (on its own): one per container or process, not per request.
 */
export async function sharedDeadLetters(role: RedisRole = 'producer'): Promise<DeadLetterStore> {
  const existing = deadLettersByRole.get(role);
  if (existing) return existing;
  const db = await sharedDb();
  const redis = await sharedRedis(role);
  // Loaded on first use, like the driver: it imports './store/mongo'.
  const { DeadLetterStore } = await import('./dead-letters/dead-letter-store');
  let store = deadLettersByRole.get(role);
  if (!store) {
    store = new DeadLetterStore(db, redis, (await sharedConfig()).queuePrefix);
    deadLettersByRole.set(role, store);
  }
  return store;
}

/**
 * The routing service the worker calls, behind the `RoutingService` port: the HTTP adapter when
 * ROUTING_URL is set, else the simulator, whose failure rate an operator (or the load test) can
 * change at run time through `RuntimeSettings`. Either way behind the port's deadline
 * (ROUTING_TIMEOUT_MS), so a service that never answers cannot hold a worker slot.
 */
export async function sharedRoutingService(options: WorkerConfig['routing']): Promise<RoutingService> {
  if (routing) return routing.service;
  if (options.url) {
    routing = { service: withDeadline(new HttpRoutingService({ url: options.url }), options.timeoutMs), close: () => undefined };
    return routing.service;
  }
  const redis = await sharedRedis('worker');
  const { queuePrefix } = await sharedConfig();
  // Another caller may have made it while this one waited.
  if (!routing) {
    const settings = new RuntimeSettings(redis, queuePrefix);
    void settings.refresh();
    const simulator = new SimulatedRoutingService({
      latencyMs: options.latencyMs,
      failureRate: options.failureRate,
      failureRateOverride: () => settings.routingFailureRate(),
    });
    routing = { service: withDeadline(simulator, options.timeoutMs), close: () => settings.close() };
  }
  return routing.service;
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

/**
 * Closes every shared client (the worker's shutdown, `invoke local`, test teardown). Safe to
 * call twice. A warm Lambda container never calls it: its clients serve the next invocation.
 */
export async function closeShared(): Promise<void> {
  const queue = eventQueue;
  const stores = [...deadLettersByRole.values()];
  eventQueue = undefined;
  deadLettersByRole.clear();
  routing?.close();
  routing = undefined;
  config = undefined; // a reconnection reads the URLs again
  await Promise.allSettled([queue?.close(), ...stores.map((store) => store.close())]);
  const pending: Promise<unknown>[] = [...redisByRole.values()].map((redis) => redis.quit().catch(() => redis.disconnect()));
  redisByRole.clear();
  if (mongo) {
    const current = mongo;
    mongo = undefined;
    pending.push(current.then(({ client }) => client.close()).catch(() => undefined));
  }
  await Promise.allSettled(pending);
}
