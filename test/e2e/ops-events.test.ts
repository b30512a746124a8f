import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventSearchPage } from '../../lib/ops/event-search';
import { sampleEvent } from '../../scripts/sample-event';
import type { RunningProcess } from '../support/processes';
import { isolatedEnv, postMany, startOffline, startWorker, waitForState } from '../support/stack';

const KEY = 'search-ops-key';

/**
 * An on-call engineer's look-up of any event, not only failed ones: by shipment, order, source,
 * type, status and received window, newest first, a page at a time. Real emulator, worker,
 * Redis and FerretDB.
 */
describe('searching events (GET /v1/ops/events)', () => {
  const env = isolatedEnv('search', { OPS_API_KEYS: KEY, JOB_ATTEMPTS: '1', ROUTING_LATENCY_MS: '10', BREAKER_FAILURE_THRESHOLD: '1000' });
  let offline: RunningProcess;
  let baseUrl: string;
  let worker: RunningProcess;
  // Five events of one shipment (two of them of one order), three of another, from two sources.
  const wanted = Array.from({ length: 5 }, (_, i) =>
    sampleEvent({
      source: 'dhl',
      eventType: i % 2 ? 'shipment.in_transit' : 'shipment.picked_up',
      payload: { shipmentId: 'SHP-4411', status: 'IN_TRANSIT', ...(i < 2 ? { orderId: 'ORD-77' } : {}) },
    }),
  );
  const other = Array.from({ length: 3 }, () =>
    sampleEvent({ source: 'fedex', payload: { shipmentId: 'SHP-9000', status: 'IN_TRANSIT' } }),
  );
  const failing = sampleEvent({ source: 'ups', payload: { shipmentId: 'SHP-FAIL', status: 'IN_TRANSIT' } });
  let between: string;

  const search = async (query: Record<string, string>, key: string | null = KEY) => {
    const response = await fetch(`${baseUrl}/v1/ops/events?${new URLSearchParams(query).toString()}`, {
      headers: key ? { 'x-api-key': key } : {},
    });
    return { status: response.status, json: (await response.json()) as EventSearchPage & { error?: { code: string; issues?: unknown[] } } };
  };
  const ids = (page: EventSearchPage) => page.items.map((item) => item.eventId);

  beforeAll(async () => {
    ({ process: offline, baseUrl } = await startOffline(env));
    worker = await startWorker({ ...env, ROUTING_FAILURE_RATE: '1' });
    expect(await postMany(baseUrl, [failing])).toEqual([202]);
    await waitForState(baseUrl, failing.eventId, 'DEAD_LETTERED').catch((error: unknown) => {
      throw new Error(
        `${String(error)}\n--- worker ---\n${worker.output().slice(-3000)}\n--- offline ---\n${offline.output().slice(-2000)}`,
      );
    });
    await worker.stop();
    worker = await startWorker(env);
    // One at a time, so received times are in this order.
    for (const event of [...wanted.slice(0, 2), ...other]) expect(await postMany(baseUrl, [event])).toEqual([202]);
    between = new Date().toISOString();
    await new Promise((done) => setTimeout(done, 20));
    for (const event of wanted.slice(2)) expect(await postMany(baseUrl, [event])).toEqual([202]);
    for (const event of [...wanted, ...other]) await waitForState(baseUrl, event.eventId, 'ROUTED');
  });

  afterAll(async () => {
    await worker?.stop();
    await offline?.stop();
  });

  it("finds a shipment's events, newest first, with counts by status, ROUTED ones included", async () => {
    const { status, json } = await search({ shipmentId: 'SHP-4411' });
    expect(status).toBe(200);
    expect(ids(json)).toEqual(wanted.map((e) => e.eventId).reverse());
    expect(json.items[0]).toMatchObject({ status: 'ROUTED', shipmentId: 'SHP-4411', source: 'dhl', routing: { hub: expect.any(String) } });
    expect(json.countsByStatus).toEqual({ ROUTED: 5 });
    expect(json.nextCursor).toBeUndefined();
  });

  it('filters by order, source, event type and status', async () => {
    expect(ids((await search({ orderId: 'ORD-77' })).json).sort()).toEqual(
      wanted
        .slice(0, 2)
        .map((e) => e.eventId)
        .sort(),
    );
    expect(ids((await search({ source: 'fedex' })).json).sort()).toEqual(other.map((e) => e.eventId).sort());
    const transit = (await search({ shipmentId: 'SHP-4411', eventType: 'shipment.in_transit' })).json;
    expect(ids(transit).sort()).toEqual([wanted[1]!, wanted[3]!].map((e) => e.eventId).sort());
    const dead = (await search({ status: 'DEAD_LETTERED' })).json;
    expect(ids(dead)).toEqual([failing.eventId]);
    expect(dead.countsByStatus).toEqual({ DEAD_LETTERED: 1 });
  });

  it('keeps to a received-at window', async () => {
    const after = (await search({ shipmentId: 'SHP-4411', from: between })).json;
    expect(ids(after)).toEqual(
      wanted
        .slice(2)
        .map((e) => e.eventId)
        .reverse(),
    );
    const before = (await search({ shipmentId: 'SHP-4411', from: new Date(Date.now() - 3_600_000).toISOString(), to: between })).json;
    expect(ids(before)).toEqual(
      wanted
        .slice(0, 2)
        .map((e) => e.eventId)
        .reverse(),
    );
  });

  it('pages with a cursor, every event once, counts over all pages', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const { json } = await search({ shipmentId: 'SHP-4411', limit: '2', ...(cursor ? { cursor } : {}) });
      expect(json.items.length).toBeLessThanOrEqual(2);
      expect(json.countsByStatus).toEqual({ ROUTED: 5 });
      seen.push(...ids(json));
      cursor = json.nextCursor;
      pages += 1;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual(wanted.map((e) => e.eventId).reverse());
  });

  it.each([
    [{ shipment: 'SHP-4411' }, 'shipment'],
    [{ limit: '0' }, 'limit'],
    [{ limit: '201' }, 'limit'],
    [{ status: 'LOST' }, 'status'],
    [{ from: 'yesterday' }, 'from'],
    [{ from: '2026-01-01T00:00:00Z', to: '2026-03-01T00:00:00Z' }, 'from'],
    [{ from: '2026-03-01T00:00:00Z', to: '2026-01-01T00:00:00Z' }, 'from'],
    [{ cursor: 'not-a-cursor' }, 'cursor'],
  ])('refuses %j with a 400 naming %s', async (query, field) => {
    const { status, json } = await search(query);
    expect(status).toBe(400);
    expect(JSON.stringify(json.error)).toContain(`"${field}"`);
  });

  it('needs the operator key', async () => {
    for (const key of [null, 'wrong-key']) {
      const { status, json } = await search({ shipmentId: 'SHP-4411' }, key);
      expect(status).toBe(401);
      expect(JSON.stringify(json)).not.toContain('SHP-4411');
    }
  });
});
