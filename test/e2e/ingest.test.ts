import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS_QUEUE } from '../../lib/queue/names';
import { freePort } from '../../scripts/local-services';
import { sampleEvent, signedHeaders } from '../../scripts/sample-event';
import type { RunningProcess } from '../support/processes';
import { isolatedEnv, postEvent, startOffline, TEST_SECRET } from '../support/stack';

/** The ingest edge as a courier meets it: the emulated API Gateway URL, the real Redis. */
describe('the ingest endpoint', () => {
  const env = isolatedEnv('ingest', { WEBHOOK_SECRETS: `${TEST_SECRET},previous-secret`, MAX_BODY_BYTES: '4096' });
  let offline: RunningProcess;
  let baseUrl: string;
  let redis: Redis;
  let queue: Queue;

  beforeAll(async () => {
    ({ process: offline, baseUrl } = await startOffline(env));
    redis = new Redis(env.REDIS_URL!, { maxRetriesPerRequest: null });
    queue = new Queue(EVENTS_QUEUE, { connection: redis, prefix: env.QUEUE_PREFIX });
  });

  afterAll(async () => {
    await queue?.close();
    redis?.disconnect();
    await offline?.stop();
  });

  const post = (body: string, headers: Record<string, string>) =>
    fetch(`${baseUrl}/v1/events`, { method: 'POST', headers, body, signal: AbortSignal.timeout(15_000) });

  it('queues a signed event and answers 202 with its receipt and correlation id', async () => {
    const event = sampleEvent();
    const body = JSON.stringify(event);
    const response = await post(body, { ...signedHeaders(TEST_SECRET, body), 'x-correlation-id': 'corr-123' });
    expect(response.status).toBe(202);
    expect(response.headers.get('x-correlation-id')).toBe('corr-123');
    const receipt = await response.json();
    expect(receipt).toMatchObject({ accepted: true, eventId: event.eventId, correlationId: 'corr-123' });
    const jobs = await queue.getJobs(['waiting']);
    expect(jobs.map((job) => job.data.event.eventId)).toContain(event.eventId);
  });

  it('accepts an event signed with the previous secret during a rotation', async () => {
    const { response } = await postEvent(baseUrl, sampleEvent(), 'previous-secret');
    expect(response.status).toBe(202);
  });

  it('answers 401 with one generic message for a missing, wrong or stale signature', async () => {
    const body = JSON.stringify(sampleEvent());
    const stale = signedHeaders(TEST_SECRET, body, Math.floor(Date.now() / 1000) - 301);
    const cases = [
      { 'content-type': 'application/json' },
      signedHeaders('rotated-out-secret', body),
      stale,
    ];
    for (const headers of cases) {
      const response = await post(body, headers);
      expect(response.status).toBe(401);
      expect(response.headers.get('x-correlation-id')).toBeTruthy();
      expect(await response.json()).toEqual({ error: { code: 'UNAUTHORIZED', message: 'missing, invalid or expired signature' } });
    }
  });

  it('answers 400 listing every field error of an invalid event', async () => {
    const body = JSON.stringify({ eventId: 'e-1', source: 'dhl', occurredAt: 'not-a-date', payload: {} });
    const response = await post(body, signedHeaders(TEST_SECRET, body));
    expect(response.status).toBe(400);
    const reply = (await response.json()) as { error: { code: string; details: Array<{ path: string }> } };
    expect(reply.error.code).toBe('VALIDATION_FAILED');
    expect(reply.error.details.map((d) => d.path).sort()).toEqual(['eventType', 'occurredAt', 'payload.shipmentId', 'payload.status']);
  });

  it('answers 415 for a body that is not JSON', async () => {
    const body = 'eventId=e-1';
    const response = await post(body, { ...signedHeaders(TEST_SECRET, body), 'content-type': 'text/plain' });
    expect(response.status).toBe(415);
  });

  it('answers 413 for a body over the limit, before checking its signature', async () => {
    const body = JSON.stringify(sampleEvent({ payload: { shipmentId: 'S-1', status: 'X', note: 'x'.repeat(8000) } }));
    const response = await post(body, { 'content-type': 'application/json' });
    expect(response.status).toBe(413);
  });

  it('queues nothing for the requests it refused', async () => {
    const counts = await queue.getJobCounts('waiting', 'delayed', 'active', 'completed', 'failed');
    const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
    expect(total).toBe(2);
  });
});

describe('the ingest endpoint while Redis is unreachable', () => {
  let offline: RunningProcess;
  let baseUrl: string;

  beforeAll(async () => {
    const deadPort = await freePort();
    const env = isolatedEnv('ingest-down', { REDIS_URL: `redis://127.0.0.1:${deadPort}`, ENQUEUE_TIMEOUT_MS: '500' });
    ({ process: offline, baseUrl } = await startOffline(env));
  });

  afterAll(async () => offline?.stop());

  it('answers 503 with Retry-After instead of a 202 it could not keep', async () => {
    const { response, json } = await postEvent(baseUrl);
    expect(response.status).toBe(503);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(json).toMatchObject({ error: { code: 'QUEUE_UNAVAILABLE' } });
  });

  it('reports not ready, naming Redis as the dependency that is down', async () => {
    const response = await fetch(`${baseUrl}/ready`);
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ ready: false, checks: { redis: 'down', mongo: 'up' } });
  });
});
