import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS_QUEUE } from '../../lib/queue/names';
import { hostileRequest, seededRandom } from '../support/hostile-requests';
import { exitState, RUNNING, type RunningProcess } from '../support/processes';
import { isolatedEnv, startOffline, TEST_SECRET } from '../support/stack';

const REQUESTS = 10_000;
const CONCURRENCY = 32;
const SEED = 20261124;
const MAX_BODY_BYTES = 16_384;

describe('hostile input at the emulated endpoint', () => {
  const env = isolatedEnv('hostile', { MAX_BODY_BYTES: String(MAX_BODY_BYTES) });
  let offline: RunningProcess;
  let baseUrl: string;

  beforeAll(async () => {
    ({ process: offline, baseUrl } = await startOffline(env));
  });
  afterAll(async () => offline?.stop());

  it(`answers ${REQUESTS} malformed or hostile requests without a 5xx, stays up and queues nothing`, async () => {
    const random = seededRandom(SEED);
    const requests = Array.from({ length: REQUESTS }, () => hostileRequest(random, TEST_SECRET, MAX_BODY_BYTES));
    const byStatus = new Map<number, number>();
    const serverErrors: string[] = [];
    let next = 0;
    const lane = async () => {
      while (next < requests.length) {
        const index = next++;
        const request = requests[index]!;
        const headers = new Headers();
        for (const [name, value] of request.headers) headers.append(name, value);
        const response = await fetch(baseUrl + request.path, {
          method: request.method,
          headers,
          body: request.method === 'GET' ? undefined : request.body,
          signal: AbortSignal.timeout(30_000),
        });
        await response.arrayBuffer();
        byStatus.set(response.status, (byStatus.get(response.status) ?? 0) + 1);
        if (response.status >= 500 || response.status < 400) serverErrors.push(`#${index} ${request.kind} -> ${response.status}`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, lane));

    expect(serverErrors.slice(0, 20)).toEqual([]);
    expect([...byStatus.values()].reduce((a, b) => a + b, 0)).toBe(REQUESTS);
    expect(exitState(offline.child)).toEqual(RUNNING);
    expect((await fetch(`${baseUrl}/health`)).status).toBe(200);

    const redis = new Redis(env.REDIS_URL!, { maxRetriesPerRequest: null });
    const queue = new Queue(EVENTS_QUEUE, { connection: redis, prefix: env.QUEUE_PREFIX });
    try {
      const counts = await queue.getJobCounts('waiting', 'delayed', 'active', 'completed', 'failed', 'prioritized');
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
    } finally {
      await queue.close();
      redis.disconnect();
    }
    console.log('hostile replies by status:', Object.fromEntries([...byStatus].sort()));
  }, 300_000);
});
