import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../lib/ops/audit-trail';
import { keyIdOf } from '../../lib/ops/audit-trail';
import type { PauseView } from '../../lib/ops/pauses';
import type { EventStatusView } from '../../lib/status/event-status';
import { sampleEvent } from '../../scripts/sample-event';
import { waitFor, type RunningProcess } from '../support/processes';
import { reconcile } from '../support/reconcile';
import { getStatus, isolatedEnv, postMany, startOffline, startWorker, waitForState } from '../support/stack';

const KEY = 'pause-ops-key';

/**
 * Pause and resume, for one source or every source: events are still accepted and held, use no
 * attempt and never dead-letter; a pause outlives the worker (SIGKILLed during it); resume drains
 * the held events, each applied once. Real emulator, workers, Redis and FerretDB.
 */
describe('pausing and resuming sources', () => {
  const env = isolatedEnv('pause', {
    OPS_API_KEYS: KEY,
    JOB_ATTEMPTS: '2',
    ROUTING_LATENCY_MS: '10',
    // Every routing call would fail: a held event that were attempted would use its attempts and dead-letter.
    ROUTING_FAILURE_RATE: '0',
  });
  let offline: RunningProcess;
  let baseUrl: string;
  let worker: RunningProcess;
  const held = Array.from({ length: 6 }, (_, i) =>
    sampleEvent({ source: 'acme', payload: { shipmentId: `SHP-P${i % 3}`, status: 'IN_TRANSIT' } }),
  );
  const free = Array.from({ length: 3 }, () => sampleEvent({ source: 'other' }));

  const ops = async (method: string, path: string, body?: unknown, key: string | null = KEY) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  };
  const pauses = async () => (await ops('GET', '/v1/ops/pauses')).json.pauses as PauseView[];
  const statusOf = async (eventId: string) => (await getStatus(baseUrl, eventId)).json as unknown as EventStatusView;

  beforeAll(async () => {
    ({ process: offline, baseUrl } = await startOffline(env));
    worker = await startWorker(env);
  });

  afterAll(async () => {
    await worker?.stop();
    await offline?.stop();
  });

  it('holds a paused source’s events, accepted and unattempted, while other sources flow, across a worker SIGKILL', async () => {
    const paused = await ops('POST', '/v1/ops/pauses', { source: 'acme', reason: 'routing maintenance 10:00-10:30' });
    expect(paused.status).toBe(200);
    expect(paused.json.paused).toMatchObject({ scope: 'acme', by: keyIdOf(KEY), reason: 'routing maintenance 10:00-10:30' });
    expect(await postMany(baseUrl, [...held, ...free])).toEqual(Array(held.length + free.length).fill(202));
    for (const event of free) await waitForState(baseUrl, event.eventId, 'ROUTED');
    await waitFor(
      'every held event to be counted',
      async () => ((await pauses())[0]?.held === held.length ? true : undefined),
      30_000,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}: ${JSON.stringify(pauses)}\n--- worker ---\n${worker.output().slice(-4000)}`);
    });

    await worker.crash();
    worker = await startWorker(env);
    // Two hold periods with the new worker: it read the pause before its first job.
    await new Promise((done) => setTimeout(done, 12_000));
    for (const event of held) expect(await statusOf(event.eventId)).toMatchObject({ status: 'QUEUED', attempts: 0 });
    const ready = (await (await fetch(`${baseUrl}/ready`)).json()) as { ready: boolean; paused: PauseView[] };
    expect(ready).toMatchObject({
      ready: true,
      paused: [{ scope: 'acme', by: keyIdOf(KEY), held: held.length, since: expect.any(String) }],
    });
  }, 120_000);

  it('drains the held events on resume, each routed and applied once, and records who paused and resumed', async () => {
    const resumed = await ops('POST', '/v1/ops/pauses/resume', { source: 'acme' });
    expect(resumed.status).toBe(200);
    expect(resumed.json).toMatchObject({ resumed: { scope: 'acme' }, held: held.length });
    for (const event of held) await waitForState(baseUrl, event.eventId, 'ROUTED');
    const settled = await reconcile(
      env.MONGO_URL!,
      env.MONGO_DB!,
      [...held, ...free].map((e) => e.eventId),
    );
    expect(settled).toMatchObject({ routed: held.length + free.length, deadLettered: 0, missing: [], appliedTwice: [], retried: 0 });
    expect(await pauses()).toEqual([]);
    const audit = (await ops('GET', '/v1/ops/audit?limit=2')).json.items as AuditRecord[];
    expect(audit.map((r) => [r.action, r.keyId, r.request])).toEqual([
      ['resume', keyIdOf(KEY), { source: 'acme' }],
      ['pause', keyIdOf(KEY), { source: 'acme', reason: 'routing maintenance 10:00-10:30' }],
    ]);
  }, 120_000);

  it('pauses every source at once, and resumes them', async () => {
    expect((await ops('POST', '/v1/ops/pauses', { reason: 'all hands' })).status).toBe(200);
    const event = sampleEvent({ source: 'anyone' });
    expect(await postMany(baseUrl, [event])).toEqual([202]);
    await waitFor('the event to be held', async () => ((await pauses())[0]?.held === 1 ? true : undefined), 30_000);
    expect(await statusOf(event.eventId)).toMatchObject({ status: 'QUEUED', attempts: 0 });
    expect((await pauses())[0]).toMatchObject({ scope: '*', reason: 'all hands' });
    expect((await ops('POST', '/v1/ops/pauses/resume', {})).status).toBe(200);
    await waitForState(baseUrl, event.eventId, 'ROUTED');
  }, 60_000);

  it('needs the operator key and a reason, and refuses what it does not know', async () => {
    expect((await ops('GET', '/v1/ops/pauses', undefined, null)).status).toBe(401);
    expect((await ops('POST', '/v1/ops/pauses', { reason: 'x' }, 'wrong')).status).toBe(401);
    for (const [body, field] of [
      [{ source: 'acme' }, 'reason'],
      [{ source: 'acme', reason: 'x', until: 'soon' }, 'until'],
      [{ source: 'a b', reason: 'x' }, 'source'],
    ] as const) {
      const { status, json } = await ops('POST', '/v1/ops/pauses', body);
      expect(status, JSON.stringify(body)).toBe(400);
      expect(JSON.stringify(json)).toContain(`"${field}"`);
    }
    expect(await pauses()).toEqual([]);
  });
});
