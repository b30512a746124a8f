import { Cluster, Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { connectionConfig } from '../../lib/config';
import { ConfigError } from '../../lib/errors';
import { createRedis, type RedisClient } from '../../lib/queue/redis';

describe('Redis Cluster configuration', () => {
  it('accepts a {hash tag} queue prefix, on one server or a cluster', () => {
    expect(connectionConfig({ QUEUE_PREFIX: '{gateway}' })).toMatchObject({ queuePrefix: '{gateway}', redisCluster: false });
    expect(connectionConfig({ QUEUE_PREFIX: '{gw_eu-1}', REDIS_CLUSTER: 'true' })).toMatchObject({
      queuePrefix: '{gw_eu-1}',
      redisCluster: true,
    });
    expect(connectionConfig({ QUEUE_PREFIX: 'gateway', REDIS_CLUSTER: 'false' }).redisCluster).toBe(false);
  });

  it('refuses a cluster whose prefix is not a hash tag, naming QUEUE_PREFIX and saying why', () => {
    for (const env of [{ REDIS_CLUSTER: 'true' }, { REDIS_CLUSTER: 'true', QUEUE_PREFIX: 'gateway' }]) {
      expect(() => connectionConfig(env)).toThrow(ConfigError);
      expect(() => connectionConfig(env)).toThrow(/QUEUE_PREFIX: .*hash tag.*one slot/);
    }
  });

  it('refuses malformed prefixes and flags', () => {
    for (const prefix of ['{gateway', 'gateway}', '{}', '{a}b', 'a{b}', 'a:b', '{a:b}']) {
      expect(() => connectionConfig({ QUEUE_PREFIX: prefix }), prefix).toThrow(/QUEUE_PREFIX/);
    }
    expect(() => connectionConfig({ REDIS_CLUSTER: 'yes' })).toThrow(/REDIS_CLUSTER/);
  });

  it('refuses a database number on a cluster, which has only database 0', () => {
    const env = { REDIS_CLUSTER: 'true', QUEUE_PREFIX: '{gw}' };
    expect(() => connectionConfig({ ...env, REDIS_URL: 'redis://h:6379/2' })).toThrow(/REDIS_URL: .*database 0/);
    expect(connectionConfig({ ...env, REDIS_URL: 'redis://h:6379/0' }).redisUrl).toBe('redis://h:6379/0');
    expect(connectionConfig({ REDIS_URL: 'redis://h:6379/2' }).redisUrl).toBe('redis://h:6379/2');
  });
});

describe('createRedis', () => {
  const clients: RedisClient[] = [];
  // Nothing listens on port 1: the clients are only inspected, then dropped.
  const make = (...args: Parameters<typeof createRedis>) => {
    const client = createRedis(...args);
    client.on('error', () => undefined);
    clients.push(client);
    return client;
  };
  afterEach(() => {
    for (const client of clients.splice(0)) client.disconnect();
  });

  it('builds one-server clients unless REDIS_CLUSTER is set', () => {
    const producer = make({ redisUrl: 'redis://127.0.0.1:1', redisCluster: false }, 'producer');
    expect(producer).toBeInstanceOf(Redis);
    expect((producer as Redis).options).toMatchObject({ maxRetriesPerRequest: 1, connectTimeout: 2000 });
    const worker = make({ redisUrl: 'redis://127.0.0.1:1', redisCluster: false }, 'worker');
    expect((worker as Redis).options.maxRetriesPerRequest).toBeNull();
  });

  it('builds a Cluster whose every node gets the role options, as BullMQ requires', () => {
    const worker = make({ redisUrl: 'redis://127.0.0.1:1', redisCluster: true }, 'worker');
    expect(worker).toBeInstanceOf(Cluster);
    // BullMQ reads a cluster's maxRetriesPerRequest from redisOptions, and refuses a worker without null.
    expect((worker as Cluster).options.redisOptions).toMatchObject({ maxRetriesPerRequest: null });
    const producer = make({ redisUrl: 'redis://127.0.0.1:1', redisCluster: true }, 'producer');
    expect((producer as Cluster).options.redisOptions).toMatchObject({ maxRetriesPerRequest: 1, connectTimeout: 2000 });
    expect((producer as Cluster).options.redisOptions).not.toHaveProperty('tls');
  });

  it('passes the URL credentials and TLS to every node, and keeps TLS host names unresolved (ElastiCache)', async () => {
    const cluster = make({ redisUrl: 'rediss://app:s%40cret@127.0.0.1:1', redisCluster: true }, 'worker') as Cluster;
    expect(cluster.options.redisOptions).toMatchObject({ username: 'app', password: 's@cret', tls: {} });
    const resolved = await new Promise((done) =>
      cluster.options.dnsLookup!('clustercfg.example.cache.amazonaws.com', (_error, address) => done(address)),
    );
    expect(resolved).toBe('clustercfg.example.cache.amazonaws.com');
    const tokenOnly = make({ redisUrl: 'rediss://:token@127.0.0.1:1', redisCluster: true }, 'producer') as Cluster;
    expect(tokenOnly.options.redisOptions).toMatchObject({ password: 'token' });
    expect(tokenOnly.options.redisOptions).not.toHaveProperty('username');
  });
});
