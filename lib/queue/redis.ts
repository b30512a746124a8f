import { Redis, type RedisOptions } from 'ioredis';

/** How a Redis client should behave for the role it plays. */
export type RedisRole = 'producer' | 'worker';

/**
 * Creates the ioredis client a role needs. A producer (the ingest edge) gives up on a command
 * quickly so a Redis outage becomes a fast 503; a worker waits for Redis forever (BullMQ
 * requires `maxRetriesPerRequest: null` for workers) and reconnects by itself.
 */
export function createRedis(url: string, role: RedisRole): Redis {
  const options: RedisOptions =
    role === 'producer'
      ? { maxRetriesPerRequest: 1, connectTimeout: 2000, enableReadyCheck: true, enableAutoPipelining: true }
      : { maxRetriesPerRequest: null, enableReadyCheck: true };
  return new Redis(url, {
    ...options,
    // Back off to at most 2 s between reconnects, forever.
    retryStrategy: (times) => Math.min(times * 100, 2000),
  });
}
