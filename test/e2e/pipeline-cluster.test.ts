import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisCluster, type RunningCluster } from '../../scripts/local-services';
import { sampleEvent } from '../../scripts/sample-event';
import { ROUTING_FAILURE_RATE_FIELD, settingsKey } from '../../lib/routing/runtime-settings';
import type { RunningProcess } from '../support/processes';
import { waitUntilSettled } from '../support/reconcile';
import { getStatus, isolatedEnv, postEvent, postMany, shipmentEvents, startOffline, startWorker, waitForState } from '../support/stack';

const OPS_KEY = 'ops-key-cluster';

/**
 * The pipeline on a real Redis Cluster (three primaries, as ElastiCache cluster mode runs it):
 * `serverless offline` and the worker process with REDIS_CLUSTER=true, seeded with one node's
 * URL, and a `{hash tag}` queue prefix. The cluster is this file's own, so every key in it is
 * one the gateway wrote.
 */
describe('the pipeline on a Redis Cluster', () => {
  let cluster: RunningCluster;
  let env: Record<string, string>;
  let prefix: string;
  let offline: RunningProcess | undefined;
  let worker: RunningProcess | undefined;
  let baseUrl: string;
  let redis: Cluster;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    const isolated = isolatedEnv('cluster', {
      ROUTING_LATENCY_MS: '50',
      JOB_ATTEMPTS: '2',
      BACKOFF_BASE_MS: '100',
      BACKOFF_MAX_MS: '200',
      BREAKER_FAILURE_THRESHOLD: '1000',
      OPS_API_KEYS: OPS_KEY,
    });
    prefix = `{${isolated.QUEUE_PREFIX}}`;
    env = { ...isolated, REDIS_URL: cluster.url, REDIS_CLUSTER: 'true', QUEUE_PREFIX: prefix };
    // The test's own view of the cluster, seeded from another node than the gateway's.
    redis = new Cluster([{ host: '127.0.0.1', port: cluster.nodes[2]!.port }]);
    ({ process: offline, baseUrl } = await startOffline(env));
    worker = await startWorker(env);
  });

  afterAll(async () => {
    await worker?.stop();
    await offline?.stop();
    redis?.disconnect();
    await cluster?.stop();
  });

  /** Every key on each master node. */
  const keysByNode = () =>
    Promise.all(
      redis.nodes('master').map(async (node) => {
        const keys: string[] = [];
        let cursor = '0';
        do {
          const [next, batch] = await node.scan(cursor, 'COUNT', 1000);
          keys.push(...batch);
          cursor = next;
        } while (cursor !== '0');
        return keys;
      }),
    );
  const slotsOf = async (keys: string[]) =>
    new Set(await Promise.all(keys.map(async (key) => Number(await redis.cluster('KEYSLOT', key)))));

  it('routes every signed event exactly once, duplicates included', async () => {
    expect((await fetch(`${baseUrl}/ready`)).status).toBe(200);
    const events = shipmentEvents(30, 5, `cl-${Date.now()}`);
    const resent = events.slice(0, 10);
    const statuses = await postMany(baseUrl, [...events, ...resent], 10);
    expect(statuses.every((status) => status === 202)).toBe(true);

    const recon = await waitUntilSettled(
      env.MONGO_URL!,
      env.MONGO_DB!,
      events.map((e) => e.eventId),
      90_000,
    );
    expect(recon).toMatchObject({ expected: 30, routed: 30, deadLettered: 0, other: {}, missing: [], appliedTwice: [] });
    const view = (await getStatus(baseUrl, events[0]!.eventId)).json;
    expect(view).toMatchObject({ status: 'ROUTED', attempts: 1, routing: { lane: 'standard' } });
  });

  it('says a re-sent event is a duplicate', async () => {
    const event = sampleEvent();
    const first = await postEvent(baseUrl, event);
    const second = await postEvent(baseUrl, event);
    expect([first.response.status, second.response.status]).toEqual([202, 202]);
    expect(first.json.duplicate).toBe(false);
    expect(second.json.duplicate).toBe(true);
    await waitForState(baseUrl, event.eventId, 'ROUTED');
  });

  it('dead-letters an event while routing fails, then routes it after a replay', async () => {
    // The run-time settings hash (`<prefix>:settings`) makes the running worker fail every call.
    await redis.hset(settingsKey(prefix), ROUTING_FAILURE_RATE_FIELD, '1');
    await new Promise((done) => setTimeout(done, 1500));
    const { response, event } = await postEvent(baseUrl, sampleEvent({ source: 'fedex' }));
    expect(response.status).toBe(202);
    const dead = await waitForState(baseUrl, event.eventId, 'DEAD_LETTERED');
    expect(dead.attempts).toBe(2);
    // The dead-letter queue's keys share the hash tag's slot too.
    const dlqKeys = (await keysByNode()).flat().filter((key) => key.includes(':events-dlq:'));
    expect(dlqKeys.length).toBeGreaterThan(0);
    expect([...(await slotsOf(dlqKeys))]).toEqual([Number(await redis.cluster('KEYSLOT', prefix))]);

    await redis.hset(settingsKey(prefix), ROUTING_FAILURE_RATE_FIELD, '0');
    await new Promise((done) => setTimeout(done, 1500));
    const replay = await fetch(`${baseUrl}/v1/ops/dlq/replay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': OPS_KEY },
      body: JSON.stringify({ ids: [event.eventId] }),
    });
    expect(replay.status).toBe(200);
    expect(((await replay.json()) as { replayed: Array<{ eventId: string }> }).replayed.map((r) => r.eventId)).toEqual([event.eventId]);
    expect(await waitForState(baseUrl, event.eventId, 'ROUTED')).toMatchObject({ replayCount: 1 });
  });

  it('keeps every key it wrote in the one slot of its hash tag, on one node', async () => {
    // Writes each family of keys itself: an event routed (queue, index, seen) and a run-time setting.
    const event = sampleEvent();
    expect((await postEvent(baseUrl, event)).response.status).toBe(202);
    await waitForState(baseUrl, event.eventId, 'ROUTED');
    await redis.hset(settingsKey(prefix), ROUTING_FAILURE_RATE_FIELD, '0');
    const slot = Number(await redis.cluster('KEYSLOT', prefix));
    const nodesWithKeys = (await keysByNode()).filter((keys) => keys.length > 0);
    expect(nodesWithKeys).toHaveLength(1);
    const keys = nodesWithKeys[0]!;
    expect(keys.every((key) => key.startsWith(`${prefix}:`))).toBe(true);
    expect([...(await slotsOf(keys))]).toEqual([slot]);
    // BullMQ's queue and the gateway's own keys alike (the dead-letter queue's: in the dead-letter test).
    for (const family of [':events:', ':event-index:', ':seen:']) {
      expect(
        keys.some((key) => key.includes(family)),
        family,
      ).toBe(true);
    }
    expect(keys).toContain(settingsKey(prefix));
  });
});
