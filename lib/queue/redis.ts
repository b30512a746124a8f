import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { ConnectionConfig } from '../config';

/** How a Redis client should behave for the role it plays. */
export type RedisRole = 'producer' | 'worker';

/** One Redis server or a Redis Cluster: BullMQ and the gateway's adapters take either. */
export type RedisClient = Redis | Cluster;

/** Where Redis is, and whether it is a cluster. */
export type RedisConnection = Pick<ConnectionConfig, 'redisUrl' | 'redisCluster'>;

/** Back off to at most 2 s between reconnects, forever. */
const reconnectDelay = (times: number) => Math.min(times * 100, 2000);

/**
 * A producer (the ingest edge) gives up on a command quickly so a Redis outage becomes a fast
 * 503; a worker waits for Redis forever (BullMQ requires `maxRetriesPerRequest: null` for
 * workers, and checks it under `redisOptions` on a cluster).
 */
function roleOptions(role: RedisRole) {
  return role === 'producer' ? { maxRetriesPerRequest: 1, connectTimeout: 2000 } : { maxRetriesPerRequest: null };
}

/**
 * Creates the ioredis client a role needs: a `Redis` for one server, or, with REDIS_CLUSTER,
 * a `Cluster` seeded from REDIS_URL (one node is enough; the client discovers the others).
 *
 * @example
 * const redis = createRedis({ redisUrl: 'rediss://:token@clustercfg.example:6379', redisCluster: true }, 'worker');
 */
export function createRedis(connection: RedisConnection, role: RedisRole): RedisClient {
  if (connection.redisCluster) return createCluster(connection.redisUrl, role);
  const options: RedisOptions = {
    ...roleOptions(role),
    enableReadyCheck: true,
    ...(role === 'producer' ? { enableAutoPipelining: true } : {}),
    retryStrategy: reconnectDelay,
  };
  return new Redis(connection.redisUrl, options);
}

/**
 * As BullMQ's Redis Cluster guide and ioredis prescribe: the role's options go to every node
 * through `redisOptions`, and so do the URL's credentials (nodes found through CLUSTER SLOTS
 * know only host and port). With TLS (`rediss://`, ElastiCache in-transit encryption) host names
 * are kept unresolved, so each node's certificate is checked against the name it was issued for.
 * The producer's commands still fail fast: each node connection gives up after one retry, and
 * ingest bounds every enqueue by ENQUEUE_TIMEOUT_MS while the cluster reconnects.
 */
function createCluster(redisUrl: string, role: RedisRole): Cluster {
  const url = new URL(redisUrl);
  const tls = url.protocol === 'rediss:';
  const node = { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 6379) };
  const options: ClusterOptions = {
    clusterRetryStrategy: reconnectDelay,
    enableReadyCheck: true,
    ...(role === 'producer' ? { enableAutoPipelining: true } : {}),
    ...(tls ? { dnsLookup: (address, callback) => callback(null, address) } : {}),
    redisOptions: {
      ...roleOptions(role),
      ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
      ...(tls ? { tls: {} } : {}),
    },
  };
  return new Cluster([node], options);
}
