import type { Db } from 'mongodb';
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

/** A shared client: the promise of it, and how to close it. */
interface Made {
  promise: Promise<unknown>;
  close(value: unknown): Promise<unknown> | void;
}
const made = new Map<string, Made>();

/**
 * The one client called `name`: made on first use, the same promise for every caller after
 * (concurrent first callers included), forgotten if making it fails, so the next call tries again.
 */
function shared<T>(name: string, make: () => Promise<T>, close: (value: T) => Promise<unknown> | void): Promise<T> {
  const existing = made.get(name);
  if (existing) return existing.promise as Promise<T>;
  const promise = make();
  made.set(name, { promise, close });
  promise.catch(() => {
    if (made.get(name)?.promise === promise) made.delete(name);
  });
  return promise;
}

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

export function sharedRedis(role: RedisRole): Promise<RedisClient> {
  return shared(
    `redis:${role}`,
    async () => createRedis(await sharedConfig(), role),
    (redis) => redis.quit().catch(() => redis.disconnect()),
  );
}

/** The events queue, for producers (ingest, status, replay). */
export function sharedEventQueue(): Promise<BullEventQueue> {
  return shared(
    'event-queue',
    async () => {
      const { queuePrefix, jobAttempts } = await sharedConfig();
      return new BullEventQueue({ connection: await sharedRedis('producer'), prefix: queuePrefix, attempts: jobAttempts });
    },
    (queue) => queue.close(),
  );
}

/**
 * The dead-letter store, for the operator functions (on the producer connection) and the
 * worker (on its own): one per container or process, not per request.
 */
export function sharedDeadLetters(role: RedisRole = 'producer'): Promise<DeadLetterStore> {
  return shared(
    `dead-letters:${role}`,
    async () => {
      const db = await sharedDb();
      const redis = await sharedRedis(role);
      // Loaded on first use, like the driver: it imports './store/mongo'.
      const { DeadLetterStore } = await import('./dead-letters/dead-letter-store');
      return new DeadLetterStore(db, redis, (await sharedConfig()).queuePrefix);
    },
    (store) => store.close(),
  );
}

/**
 * The routing service the worker calls, behind the `RoutingService` port: the HTTP adapter when
 * ROUTING_URL is set, else the simulator, whose failure rate an operator (or the load test) can
 * change at run time through `RuntimeSettings`. Either way behind the port's deadline
 * (ROUTING_TIMEOUT_MS), so a service that never answers cannot hold a worker slot.
 */
export function sharedRoutingService(options: WorkerConfig['routing']): Promise<RoutingService> {
  return shared(
    'routing',
    async () => {
      if (options.url) {
        const headers = options.authHeader ? { [options.authHeader.name]: options.authHeader.value } : {};
        return { service: withDeadline(new HttpRoutingService({ url: options.url, headers }), options.timeoutMs), close() {} };
      }
      const settings = new RuntimeSettings(await sharedRedis('worker'), (await sharedConfig()).queuePrefix);
      void settings.refresh();
      const simulator = new SimulatedRoutingService({
        latencyMs: options.latencyMs,
        failureRate: options.failureRate,
        failureRateOverride: () => settings.routingFailureRate(),
      });
      return { service: withDeadline(simulator, options.timeoutMs), close: () => settings.close() };
    },
    (routing) => routing.close(),
  ).then((routing) => routing.service);
}

/** The database, connected and indexed once; a failed connection is retried on the next call. */
export async function sharedDb(): Promise<Db> {
  const { db } = await shared(
    'mongo',
    async () => {
      const { mongoUrl, mongoDb } = await sharedConfig();
      // Loaded on first use: the ingest function never touches Mongo, and evaluating the driver
      // would lengthen its cold start (see `npm run bench:lambda`).
      const { connectMongo, ensureIndexes } = await import('./store/mongo');
      const client = await connectMongo(mongoUrl);
      const db = client.db(mongoDb);
      await ensureIndexes(db);
      return { client, db };
    },
    ({ client }) => client.close(),
  );
  return db;
}

/**
 * Closes every shared client (the worker's shutdown, `invoke local`, test teardown). Safe to
 * call twice. A warm Lambda container never calls it: its clients serve the next invocation.
 */
export async function closeShared(): Promise<void> {
  const clients = [...made.entries()];
  made.clear();
  config = undefined; // a reconnection reads the URLs again
  const closeOne = ([, client]: [string, Made]) => client.promise.then((value) => client.close(value)).catch(() => undefined);
  // The users of a connection first (the queue, the stores, the settings), then the connections.
  const isConnection = ([name]: [string, Made]) => name.startsWith('redis:') || name === 'mongo';
  await Promise.allSettled(clients.filter((client) => !isConnection(client)).map(closeOne));
  await Promise.allSettled(clients.filter(isConnection).map(closeOne));
}
