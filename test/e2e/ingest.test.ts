import { randomBytes, randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS_QUEUE } from '../../lib/queue/names';
import { freePort } from '../../scripts/local-services';
import { sampleEvent, signedHeaders } from '../../scripts/sample-event';
import { waitFor, type RunningProcess } from '../support/processes';
import { isolatedEnv, postEvent, startOffline, TEST_SECRET } from '../support/stack';

/** The ingest edge as a courier meets it: the emulated API Gateway URL, the real Redis. */
describe('the ingest endpoint', () => {
  const whsec = `whsec_${randomBytes(24).toString('base64')}`;
  const env = isolatedEnv('ingest', {
    WEBHOOK_SECRETS: `${TEST_SECRET},previous-secret,${whsec}`,
    SOURCE_SECRETS: 'dhl=dhl-secret|dhl-previous,fedex=fedex-secret',
    MAX_BODY_BYTES: '4096',
    MAX_BACKLOG: '40',
    BACKLOG_CACHE_MS: '0',
    BACKLOG_RETRY_AFTER_SECONDS: '9',
    POWERTOOLS_LOG_LEVEL: 'INFO',
    METRICS_FLUSH_MS: '0',
  });
  let offline: RunningProcess;
  let baseUrl: string;
  let redis: Redis;
  let queue: Queue<{ event: { eventId: string } }>;

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
  /** Every job the queue holds, in any state. */
  const queuedTotal = async () =>
    Object.values(await queue.getJobCounts('waiting', 'delayed', 'active', 'completed', 'failed')).reduce((sum, n) => sum + n, 0);
  /** One request of each kind the door refuses: unsigned (401), invalid (400), not JSON (415), too large (413). */
  const postRefused = async () => {
    const invalid = JSON.stringify({ eventId: 'e-1', source: 'dhl', occurredAt: 'not-a-date', payload: {} });
    const text = 'eventId=e-1';
    const large = JSON.stringify(sampleEvent({ payload: { shipmentId: 'S-1', status: 'X', note: 'x'.repeat(8000) } }));
    return [
      (await post(JSON.stringify(sampleEvent()), { 'content-type': 'application/json' })).status,
      (await post(invalid, signedHeaders(TEST_SECRET, invalid))).status,
      (await post(text, { ...signedHeaders(TEST_SECRET, text), 'content-type': 'text/plain' })).status,
      (await post(large, { 'content-type': 'application/json' })).status,
    ];
  };

  it('queues a signed event and answers 202 with its receipt and correlation id', async () => {
    const event = sampleEvent();
    const body = JSON.stringify(event);
    const response = await post(body, { ...signedHeaders(TEST_SECRET, body), 'x-correlation-id': 'corr-123' });
    expect(response.status).toBe(202);
    expect(response.headers.get('x-correlation-id')).toBe('corr-123');
    const receipt = await response.json();
    expect(receipt).toMatchObject({ accepted: true, eventId: event.eventId, correlationId: 'corr-123', duplicate: false });
    const jobs = await queue.getJobs(['waiting']);
    expect(jobs.map((job) => job.data.event.eventId)).toContain(event.eventId);
  });

  it('checks a dry run (?dryRun=true) as a real send and answers 200, queueing nothing', async () => {
    const event = sampleEvent();
    const body = JSON.stringify(event);
    const dryRun = (query: string, headers = signedHeaders(TEST_SECRET, body)) =>
      fetch(`${baseUrl}/v1/events?${query}`, { method: 'POST', headers, body, signal: AbortSignal.timeout(15_000) });
    const before = await queuedTotal();
    const checked = await dryRun('dryRun=true');
    expect(checked.status).toBe(200);
    expect(await checked.json()).toMatchObject({ dryRun: true, valid: true, eventId: event.eventId, duplicate: false });
    expect(await queuedTotal()).toBe(before);

    // Sent for real, then checked again: the dry run says a re-send would be absorbed.
    expect((await post(body, signedHeaders(TEST_SECRET, body))).status).toBe(202);
    expect(await (await dryRun('dryRun=true')).json()).toMatchObject({ duplicate: true });
    expect(await queuedTotal()).toBe(before + 1);

    // Refused as a real send is: unsigned, invalid; and a dryRun that is neither true nor false.
    expect((await dryRun('dryRun=true', { 'content-type': 'application/json' })).status).toBe(401);
    const invalid = JSON.stringify({ ...event, occurredAt: 'not-a-date' });
    const invalidReply = await fetch(`${baseUrl}/v1/events?dryRun=true`, {
      method: 'POST',
      headers: signedHeaders(TEST_SECRET, invalid),
      body: invalid,
    });
    expect(invalidReply.status).toBe(400);
    const maybe = await dryRun('dryRun=yes');
    expect(maybe.status).toBe(400);
    expect(await maybe.json()).toMatchObject({ error: { details: [{ path: 'dryRun' }] } });
    // dryRun=false is a real send: this one a re-send, absorbed.
    const real = await dryRun('dryRun=false');
    expect(real.status).toBe(202);
    expect(await real.json()).toMatchObject({ accepted: true, duplicate: true });
    expect(await queuedTotal()).toBe(before + 1);
  });

  it('accepts an event signed with the previous secret during a rotation', async () => {
    const { response } = await postEvent(baseUrl, sampleEvent(), 'previous-secret');
    expect(response.status).toBe(202);
  });

  it("checks a per-source route with that source's secrets only", async () => {
    const postTo = (source: string, secret: string, event = sampleEvent({ source })) => {
      const body = JSON.stringify(event);
      return fetch(`${baseUrl}/v1/sources/${source}/events`, { method: 'POST', headers: signedHeaders(secret, body), body });
    };
    expect((await postTo('dhl', 'dhl-secret')).status).toBe(202);
    expect((await postTo('dhl', 'dhl-previous')).status).toBe(202);
    expect((await postTo('dhl', 'fedex-secret')).status).toBe(401);
    expect((await postTo('dhl', TEST_SECRET)).status).toBe(401);
    expect((await postTo('ups', 'dhl-secret', sampleEvent({ source: 'ups' }))).status).toBe(401);
    // Signed by DHL's secret, the body may not claim to be FedEx.
    const spoof = await postTo('dhl', 'dhl-secret', sampleEvent({ source: 'fedex' }));
    expect(spoof.status).toBe(400);
    expect(await spoof.json()).toMatchObject({ error: { details: [{ path: 'source' }] } });
  });

  it('takes the source of a per-source route when the body leaves it out', async () => {
    const { source: _omitted, ...event } = sampleEvent();
    const body = JSON.stringify(event);
    const response = await fetch(`${baseUrl}/v1/sources/fedex/events`, {
      method: 'POST',
      headers: signedHeaders('fedex-secret', body),
      body,
    });
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ idempotencyKey: `fedex:${event.eventId}` });
  });

  it('accepts a request signed with the Standard Webhooks reference library, keyed by webhook-id', async () => {
    const { idempotencyKey: _none, ...event } = sampleEvent();
    const body = JSON.stringify(event);
    const id = `msg_${randomUUID()}`;
    const response = await post(body, {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
      'webhook-signature': new Webhook(whsec).sign(id, new Date(), body),
    });
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ idempotencyKey: id });
  });

  it('absorbs a duplicate storm: one job per idempotency key, every reply a 202 saying so', async () => {
    const event = sampleEvent();
    const body = JSON.stringify(event);
    const replies = await Promise.all(Array.from({ length: 25 }, () => post(body, signedHeaders(TEST_SECRET, body))));
    expect(replies.map((r) => r.status)).toEqual(Array(25).fill(202));
    const receipts = (await Promise.all(replies.map((r) => r.json()))) as Array<{ duplicate: boolean }>;
    expect(receipts.filter((r) => !r.duplicate)).toHaveLength(1);
    const jobs = await queue.getJobs(['waiting']);
    expect(jobs.filter((job) => job.data.event.eventId === event.eventId)).toHaveLength(1);
  });

  it('answers 401 with one generic message for a missing, wrong or stale signature', async () => {
    const body = JSON.stringify(sampleEvent());
    const stale = signedHeaders(TEST_SECRET, body, Math.floor(Date.now() / 1000) - 301);
    const cases = [{ 'content-type': 'application/json' }, signedHeaders('rotated-out-secret', body), stale];
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
    const before = await queuedTotal();
    expect(await postRefused()).toEqual([401, 400, 415, 413]);
    expect(await queuedTotal()).toBe(before);
  });

  it('never writes secrets, signatures or raw bodies to its logs', async () => {
    const marker = `marker-${randomUUID()}`;
    const event = sampleEvent({ payload: { shipmentId: 'S-LOG', status: 'IN_TRANSIT', note: marker } });
    const body = JSON.stringify(event);
    const headers = signedHeaders(TEST_SECRET, body);
    expect((await post(body, headers)).status).toBe(202);
    expect((await post(body.replace('S-LOG', 'S-BAD'), headers)).status).toBe(401);
    const logs = offline.output();
    expect(logs).toContain(event.eventId);
    for (const secret of [TEST_SECRET, 'previous-secret', 'dhl-secret', whsec, headers['x-signature']!.slice(7), marker]) {
      expect(logs).not.toContain(secret);
    }
  });

  it('publishes reply counts by status code as CloudWatch embedded metrics', async () => {
    expect((await postEvent(baseUrl)).response.status).toBe(202);
    expect(await postRefused()).toEqual([401, 400, 415, 413]);
    const replyLines = () =>
      offline
        .output()
        .split('\n')
        .filter((line) => line.includes('"_aws"') && line.includes('"Replies"'));
    const statusesOf = (lines: string[]) => new Set(lines.map((line) => (JSON.parse(line) as { statusCode: string }).statusCode));
    const expected = ['202', '400', '401', '413', '415'];
    // The emulator's output reaches this process a moment after each reply.
    const lines = await waitFor(
      'a metrics line for each status',
      async () => {
        const found = replyLines();
        return expected.every((status) => statusesOf(found).has(status)) ? found : undefined;
      },
      10_000,
    ).catch(() => replyLines());
    const statuses = statusesOf(lines);
    for (const status of expected) expect(statuses).toContain(status);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Namespace: 'CourierEventGateway' }] },
      Replies: expect.any(Number),
    });
  });

  it('answers 429 with Retry-After once the backlog passes its bound, and queues nothing more', async () => {
    let status = 0;
    let response: Response | undefined;
    try {
      for (let i = 0; i < 60 && status !== 429; i++) {
        ({ response } = await postEvent(baseUrl));
        status = response.status;
      }
      expect(status).toBe(429);
      expect(response!.headers.get('retry-after')).toBe('9');
      expect(await queue.getWaitingCount()).toBe(40);
      expect((await postEvent(baseUrl)).response.status).toBe(429);
      expect(await queue.getWaitingCount()).toBe(40);
    } finally {
      // Leaves the backlog as it found it (below the bound) for whatever test runs next.
      await queue.drain();
    }
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
    expect(await response.json()).toEqual({ ready: false, checks: { secrets: 'up', redis: 'down', mongo: 'up' } });
  });
});
