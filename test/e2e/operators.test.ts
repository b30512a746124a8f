import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleEvent } from '../../scripts/sample-event';
import type { DeadLetterPage } from '../../lib/dead-letters/dead-letter-store';
import type { GatewayStats } from '../../lib/ops/stats';
import type { RunningProcess } from '../support/processes';
import { reconcile } from '../support/reconcile';
import { getStatus, isolatedEnv, postMany, startOffline, startWorker, TEST_STATUS_KEY, waitForState } from '../support/stack';

const KEY = 'ops-key-current';

// Replies are JSON read as the shape the API documents; each test asserts what it needs of it.
type DlqReply = DeadLetterPage & { countsByReason: Record<string, number> };
const body = async <T>(response: Response): Promise<T> => (await response.json()) as T;

/** The operator's tools against real processes: dead letters, replay, stats, and who may use them. */
describe('operators', () => {
  const env = isolatedEnv('ops', {
    OPS_API_KEYS: `${KEY},ops-key-previous`,
    JOB_ATTEMPTS: '2',
    BACKOFF_BASE_MS: '100',
    BACKOFF_MAX_MS: '200',
    ROUTING_LATENCY_MS: '20',
    BREAKER_FAILURE_THRESHOLD: '1000',
  });
  let offline: RunningProcess;
  let baseUrl: string;
  let worker: RunningProcess | undefined;
  // Every event below is dead-lettered once, before the tests. Each test replays only events of its
  // own (a source of its own), so no test depends on what another did first.
  const poison = sampleEvent({ source: 'acme', eventType: 'shipment.poison' }); // read and listed, never replayed
  const others = Array.from({ length: 12 }, () => sampleEvent({ source: 'dhl' })); // listed, never replayed
  const selected = sampleEvent({ source: 'ups' });
  const concurrent = Array.from({ length: 4 }, () => sampleEvent({ source: 'fedex' }));
  const paced = Array.from({ length: 8 }, () => sampleEvent({ source: 'gls' }));
  const all = [poison, ...others, selected, ...concurrent, ...paced];

  const ops = (path: string, init: RequestInit = {}, key: string | null = KEY) =>
    fetch(`${baseUrl}${path}`, {
      ...init,
      headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}), ...(init.headers as Record<string, string>) },
    });
  const replay = async (body: unknown) => {
    const response = await ops('/v1/ops/dlq/replay', { method: 'POST', body: JSON.stringify(body) });
    expect(response.status).toBe(200);
    return (await response.json()) as { replayed: Array<{ eventId: string }>; skipped: unknown[]; ratePerSecond: number; dryRun: boolean };
  };

  beforeAll(async () => {
    ({ process: offline, baseUrl } = await startOffline(env));
    // Every routing call fails: all of these end as dead letters.
    worker = await startWorker({ ...env, ROUTING_FAILURE_RATE: '1' });
    expect((await postMany(baseUrl, all)).every((s) => s === 202)).toBe(true);
    for (const event of all) await waitForState(baseUrl, event.eventId, 'DEAD_LETTERED');
    await worker.stop();
    worker = await startWorker(env); // the cause is fixed
  });

  afterAll(async () => {
    await worker?.stop();
    await offline?.stop();
  });

  it('refuses every operator route without a valid key, and leaks nothing', async () => {
    for (const [path, method] of [
      ['/v1/ops/stats', 'GET'],
      ['/v1/ops/dlq', 'GET'],
      ['/v1/ops/dlq/replay', 'POST'],
    ] as const) {
      for (const key of [null, 'wrong-key', `${KEY}x`]) {
        const response = await ops(path, { method, ...(method === 'POST' ? { body: '{}' } : {}) }, key);
        expect(response.status, `${method} ${path} with ${key}`).toBe(401);
        expect(await response.text()).not.toContain(poison.eventId);
      }
    }
    expect((await ops('/v1/ops/stats', {}, 'ops-key-previous')).status).toBe(200);
    expect((await fetch(`${baseUrl}/v1/ops/stats`, { headers: { authorization: `Bearer ${KEY}` } })).status).toBe(200);
  });

  it('refuses the status route without a key it accepts, and opens it to an operator key or a status key', async () => {
    const url = `${baseUrl}/v1/events/${encodeURIComponent(poison.eventId)}`;
    for (const headers of [{}, { 'x-api-key': 'wrong-key' }, { authorization: `Bearer ${TEST_STATUS_KEY}x` }] as Record<string, string>[]) {
      const response = await fetch(url, { headers });
      expect(response.status, JSON.stringify(headers)).toBe(401);
      expect(await response.json()).toEqual({ error: { code: 'UNAUTHORIZED', message: 'a valid API key is required' } });
    }
    // Without a key, an unknown event is a 401 too: the route does not tell which events exist.
    expect((await getStatus(baseUrl, 'no-such-event', null)).status).toBe(401);
    expect((await getStatus(baseUrl, poison.eventId, KEY)).json).toMatchObject({ status: 'DEAD_LETTERED' });
    expect((await getStatus(baseUrl, poison.eventId, 'ops-key-previous')).status).toBe(200);
    expect((await getStatus(baseUrl, poison.eventId, TEST_STATUS_KEY)).json).toMatchObject({ status: 'DEAD_LETTERED' });
    expect((await fetch(url, { headers: { authorization: `Bearer ${TEST_STATUS_KEY}` } })).status).toBe(200);
    // A status key is read-only: it opens no operator route.
    expect((await ops('/v1/ops/stats', {}, TEST_STATUS_KEY)).status).toBe(401);
  });

  it('shows a poison event DEAD_LETTERED with its full attempt history', async () => {
    const { json } = await getStatus(baseUrl, poison.eventId);
    expect(json).toMatchObject({ status: 'DEAD_LETTERED', attempts: 2 });
    expect(json.attemptHistory).toEqual([
      expect.objectContaining({ attempt: 1, error: 'TransientRoutingError' }),
      expect.objectContaining({ attempt: 2, error: 'TransientRoutingError' }),
    ]);
  });

  it('lists dead letters by filter, a page at a time, with counts by reason', async () => {
    const first = await body<DlqReply>(await ops('/v1/ops/dlq?source=dhl&limit=5'));
    expect(first.items).toHaveLength(5);
    expect(first.countsByReason).toEqual({ RETRIES_EXHAUSTED: 12 });
    expect(first.items[0]).toMatchObject({
      source: 'dhl',
      reason: 'RETRIES_EXHAUSTED',
      attempts: 2,
      error: { name: 'TransientRoutingError' },
    });
    expect(first.items[0]!.attemptHistory).toHaveLength(2);
    const seen = new Set<string>(first.items.map((i) => i.eventId));
    let cursor = first.nextCursor;
    while (cursor) {
      const page = await body<DlqReply>(await ops(`/v1/ops/dlq?source=dhl&limit=5&cursor=${cursor}`));
      for (const item of page.items) seen.add(item.eventId);
      cursor = page.nextCursor;
    }
    expect([...seen].sort()).toEqual(others.map((e) => e.eventId).sort());
    expect((await body<DlqReply>(await ops('/v1/ops/dlq?source=acme'))).items.map((i) => i.eventId)).toEqual([poison.eventId]);
    expect((await ops('/v1/ops/dlq?reason=NOT_A_REASON')).status).toBe(400);
    expect((await ops('/v1/ops/dlq?cursor=garbage')).status).toBe(400);
  });

  it('changes nothing in a dry run', async () => {
    const report = await replay({ source: 'acme', dryRun: true });
    expect(report).toMatchObject({ dryRun: true, replayed: [{ eventId: poison.eventId }] });
    expect((await getStatus(baseUrl, poison.eventId)).json.status).toBe('DEAD_LETTERED');
    expect((await body<DlqReply>(await ops('/v1/ops/dlq?source=acme'))).items).toHaveLength(1);
  });

  it('replays the selected event and only it, which is then routed', async () => {
    const report = await replay({ ids: [selected.eventId] });
    expect(report.replayed.map((r) => r.eventId)).toEqual([selected.eventId]);
    const routed = await waitForState(baseUrl, selected.eventId, 'ROUTED');
    expect(routed).toMatchObject({ replayCount: 1, correlationId: expect.any(String) });
    const untouched = await reconcile(
      env.MONGO_URL!,
      env.MONGO_DB!,
      others.map((e) => e.eventId),
    );
    expect(untouched.deadLettered).toBe(12);
  });

  it('replays once when two replays of the same dead letters run at once', async () => {
    const targets = concurrent.map((e) => e.eventId);
    const [a, b] = await Promise.all([replay({ ids: targets }), replay({ ids: targets })]);
    expect([...a.replayed, ...b.replayed].map((r) => r.eventId).sort()).toEqual([...targets].sort());
    for (const id of targets) {
      expect(await waitForState(baseUrl, id, 'ROUTED')).toMatchObject({ replayCount: 1 });
    }
    expect((await replay({ ids: targets })).replayed).toEqual([]);
  });

  it('holds a replay to its rate cap', async () => {
    const started = Date.now();
    const report = await replay({ source: 'gls', ratePerSecond: 4 });
    const seconds = (Date.now() - started) / 1000;
    expect(report.replayed).toHaveLength(8);
    // 8 events at 4/s: the last goes out no sooner than 7 / 4 = 1.75 s after the first.
    expect(seconds).toBeGreaterThanOrEqual(1.75);
    expect(report.ratePerSecond).toBeLessThanOrEqual(4);
    for (const event of paced) await waitForState(baseUrl, event.eventId, 'ROUTED');
  });

  it('reports queue, dead-letter and ledger counts', async () => {
    // Whatever the other tests replayed before this one, the counts must match the stores.
    const settled = await reconcile(
      env.MONGO_URL!,
      env.MONGO_DB!,
      all.map((e) => e.eventId),
    );
    expect(settled.routed + settled.deadLettered).toBe(all.length);
    const stats = await body<GatewayStats>(await ops('/v1/ops/stats'));
    expect({ ROUTED: stats.ledger.ROUTED ?? 0, DEAD_LETTERED: stats.ledger.DEAD_LETTERED ?? 0 }).toEqual({
      ROUTED: settled.routed,
      DEAD_LETTERED: settled.deadLettered,
    });
    expect(stats.deadLetterQueue).toEqual({ pending: settled.deadLettered, queued: settled.deadLettered });
    expect(stats.queue).toHaveProperty('waiting');
    expect(typeof stats.oldestWaitingSeconds).toBe('number');
  });
});
