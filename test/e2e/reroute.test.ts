import { MongoClient, type Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeadLetterRecord } from '../../lib/dead-letters/dead-letter-store';
import type { LedgerEntry } from '../../lib/ledger/ledger';
import type { AuditRecord } from '../../lib/ops/audit-trail';
import { keyIdOf } from '../../lib/ops/audit-trail';
import type { ShipmentState } from '../../lib/shipments/shipment-store';
import type { EventStatusView } from '../../lib/status/event-status';
import { Collections } from '../../lib/store/mongo';
import { sampleEvent } from '../../scripts/sample-event';
import type { ShipmentEventInput } from '../../lib/events/schema';
import { runCommand, waitFor, type RunningProcess } from '../support/processes';
import { getStatus, isolatedEnv, postMany, startOffline, startWorker, waitForState } from '../support/stack';

const KEY = 'reroute-ops-key';
const REASON = 'hub AMS-1 closed: route around it';

type Reply = { status: number; json: Record<string, unknown> & { error?: { code: string; message: string; details?: unknown } } };

/**
 * Re-routing ROUTED and DEAD_LETTERED events: a dry run that changes nothing, then a confirmed
 * re-route, by window and by ids, paced, idempotent by request id, each event's new round in its
 * history, the shipment's out-of-order guard intact; over HTTP and through `serverless invoke
 * local -f reroute`, each in the audit trail. Real emulator, worker, Redis and FerretDB.
 */
describe('re-routing events (POST /v1/ops/reroutes, the reroute function)', () => {
  const env = isolatedEnv('reroute', { OPS_API_KEYS: KEY, JOB_ATTEMPTS: '1', ROUTING_LATENCY_MS: '10', BREAKER_FAILURE_THRESHOLD: '1000' });
  let offline: RunningProcess;
  let worker: RunningProcess;
  let baseUrl: string;
  let client: MongoClient;
  let db: Db;
  const windowed = Array.from({ length: 3 }, (_, i) =>
    sampleEvent({ source: 'rr-win', payload: { shipmentId: `SHP-RW${i}`, status: 'IN_TRANSIT' } }),
  );
  const repeated = sampleEvent({ source: 'rr-again', payload: { shipmentId: 'SHP-RA', status: 'IN_TRANSIT' } });
  const byId = sampleEvent({ source: 'rr-ids', payload: { shipmentId: 'SHP-RI', status: 'IN_TRANSIT' } });
  const dead = sampleEvent({ source: 'rr-dead', payload: { shipmentId: 'SHP-RD', status: 'IN_TRANSIT' } });
  const older = sampleEvent({
    source: 'rr-order',
    occurredAt: '2026-11-24T09:00:00Z',
    payload: { shipmentId: 'SHP-RO', status: 'PICKED_UP' },
  });
  const newer = sampleEvent({
    source: 'rr-order',
    occurredAt: '2026-11-24T10:00:00Z',
    payload: { shipmentId: 'SHP-RO', status: 'IN_TRANSIT' },
  });
  const invoked = sampleEvent({ source: 'rr-invoke', payload: { shipmentId: 'SHP-RV', status: 'OUT_FOR_DELIVERY' } });
  const held = sampleEvent({ source: 'rr-held' });
  let window: { from: string; to: string };
  /** Spans every event of the setup. */
  let everything: { from: string; to: string };

  const ops = async (method: string, path: string, body?: unknown, key: string | null = KEY): Promise<Reply> => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, json: (await response.json()) as Reply['json'] };
  };
  const reroute = (body: unknown, key: string | null = KEY) => ops('POST', '/v1/ops/reroutes', body, key);
  const statusOf = async (eventId: string) => (await getStatus(baseUrl, eventId)).json as unknown as EventStatusView;
  const shipment = (id: string) => db.collection<ShipmentState>(Collections.shipments).findOne({ _id: id });
  const ledgerOf = (eventId: string) => db.collection<LedgerEntry>(Collections.ledger).findOne({ eventId });
  const versionsOf = (id: string) => db.collection(Collections.shipmentVersions).countDocuments({ shipmentId: id });
  /** Waits until the request's every event has ended its new round; returns its progress. */
  const untilDone = (requestId: string) =>
    waitFor(
      `re-route ${requestId} to be done`,
      async () => {
        const { json } = await ops('GET', `/v1/ops/reroutes/${requestId}`);
        return json.state === 'done' ? json : undefined;
      },
      60_000,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}\n--- worker ---\n${worker.output().slice(-4000)}`);
    });
  const routed = async (events: ShipmentEventInput[]) => {
    expect(await postMany(baseUrl, events, 1)).toEqual(events.map(() => 202));
    for (const event of events) await waitForState(baseUrl, event.eventId, 'ROUTED');
  };

  beforeAll(async () => {
    client = await MongoClient.connect(env.MONGO_URL!, { serverSelectionTimeoutMS: 5000 });
    db = client.db(env.MONGO_DB);
    ({ process: offline, baseUrl } = await startOffline(env));
    worker = await startWorker({ ...env, ROUTING_FAILURE_RATE: '1' });
    expect(await postMany(baseUrl, [dead])).toEqual([202]);
    await waitForState(baseUrl, dead.eventId, 'DEAD_LETTERED');
    await worker.stop();
    worker = await startWorker(env);
    const from = new Date().toISOString();
    await routed(windowed);
    window = { from, to: new Date().toISOString() };
    // The worker does not keep the order events were posted in: the older event is routed before
    // the newer one is posted, so the shipment applies both (version 2) and the guard has a newer state to keep.
    await routed([repeated, byId, older]);
    await routed([newer, invoked]);
    everything = { from: new Date(Date.now() - 3600_000).toISOString(), to: new Date().toISOString() };
    // An event accepted but held by a pause: QUEUED, not taken up by a worker.
    expect((await ops('POST', '/v1/ops/pauses', { source: 'rr-held', reason: 'keep one event queued' })).status).toBe(200);
    expect(await postMany(baseUrl, [held])).toEqual([202]);
  });

  afterAll(async () => {
    await worker?.stop();
    await offline?.stop();
    await client?.close();
  });

  it('shows a dry run by window (count and sample) and changes nothing; confirmed, gives each event round 2 at the capped rate', async () => {
    const request = { requestId: 'rr-window-1', reason: REASON, filter: { ...window, source: 'rr-win' }, ratePerSecond: 2 };
    const before = await Promise.all(windowed.map((e) => shipment(e.payload.shipmentId)));

    const dry = await reroute(request);
    expect(dry.status).toBe(200);
    expect(dry.json).toMatchObject({ requestId: 'rr-window-1', dryRun: true, matched: 3, skipped: [] });
    expect(dry.json.sample).toMatchObject(
      windowed.map((e) => ({
        eventId: e.eventId,
        source: 'rr-win',
        eventType: e.eventType,
        shipmentId: e.payload.shipmentId,
        status: 'ROUTED',
      })),
    );
    // Nothing changed: no round, no shipment version, no request on record.
    for (const event of windowed) expect((await ledgerOf(event.eventId))?.routingRound).toBeUndefined();
    expect(await Promise.all(windowed.map((e) => shipment(e.payload.shipmentId)))).toEqual(before);
    expect((await ops('GET', '/v1/ops/reroutes/rr-window-1')).status).toBe(404);

    const confirmed = await reroute({ ...request, confirm: true });
    expect(confirmed.status).toBe(202);
    expect(confirmed.json).toMatchObject({
      requestId: 'rr-window-1',
      dryRun: false,
      matched: 3,
      state: expect.stringMatching(/^(running|done)$/),
      progress: { queued: 3 },
      statusUrl: '/v1/ops/reroutes/rr-window-1',
    });
    const progress = await untilDone('rr-window-1');
    expect(progress).toMatchObject({
      reason: REASON,
      by: keyIdOf(KEY),
      dryRun: false,
      matched: 3,
      queued: 3,
      routed: 3,
      failed: 0,
      finishedAt: expect.any(String),
    });

    const finished: number[] = [];
    for (const [i, event] of windowed.entries()) {
      const view = await statusOf(event.eventId);
      expect(view).toMatchObject({ status: 'ROUTED', routingRound: 2 });
      expect(view.rounds).toEqual([
        expect.objectContaining({
          round: 2,
          requestId: 'rr-window-1',
          reason: REASON,
          by: keyIdOf(KEY),
          outcome: 'ROUTED',
          applied: 'applied',
        }),
      ]);
      finished.push(Date.parse(view.rounds![0]!.finishedAt!));
      // The shipment took the new route in a version of its own; its status did not move.
      const after = await shipment(event.payload.shipmentId);
      expect(after).toMatchObject({ status: 'IN_TRANSIT', lastEventId: event.eventId, version: 2 });
      expect(after!.route!.decidedAt).not.toBe(before[i]!.route!.decidedAt);
      expect(after!.history.map((h) => h.round ?? 1)).toEqual([1, 2]);
    }
    // Two a second: the third event's job was held back a second after the first's (unpaced, tens of ms apart).
    expect(Math.max(...finished) - Math.min(...finished)).toBeGreaterThanOrEqual(700);
  });

  it('re-routes nothing again for the same request id, and refuses the id with another body (409)', async () => {
    const request = { requestId: 'rr-again-1', reason: REASON, filter: { ...everything, source: 'rr-again' }, confirm: true };
    const event = repeated;
    // Two identical requests at once: the unique insert of the request lets one of them queue.
    const first = await Promise.all([reroute(request), reroute(request)]);
    expect(first.map((reply) => reply.status).sort()).toEqual([200, 202]);
    await untilDone('rr-again-1');
    const round = (await ledgerOf(event.eventId))!.routingRound!;
    const versions = await versionsOf(event.payload.shipmentId);

    // Sent again, twice at once: its progress, nothing queued.
    const again = await Promise.all([reroute(request), reroute({ ...request, confirm: false })]);
    for (const reply of again) {
      expect(reply.status).toBe(200);
      expect(reply.json).toMatchObject({
        requestId: 'rr-again-1',
        dryRun: false,
        matched: 1,
        state: 'done',
        progress: { queued: 1, routed: 1 },
      });
    }
    await new Promise((done) => setTimeout(done, 3000));
    const entry = await ledgerOf(event.eventId);
    expect(entry!.routingRound).toBe(round);
    expect(entry!.routingRounds!.filter((r) => r.requestId === 'rr-again-1')).toHaveLength(1);
    expect(await versionsOf(event.payload.shipmentId)).toBe(versions);
    expect(await db.collection(Collections.reroutes).countDocuments({ _id: 'rr-again-1' as never })).toBe(1);

    const conflict = await reroute({ ...request, reason: 'another reason' });
    expect(conflict.status).toBe(409);
    expect(conflict.json.error).toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('"rr-again-1" was already used with a different body'),
    });
  });

  it('re-routes by ids, skipping an unknown id and a QUEUED event with why', async () => {
    const reply = await reroute({
      requestId: 'rr-ids-1',
      reason: REASON,
      ids: [byId.eventId, 'no-such-event', held.eventId],
      confirm: true,
    });
    expect(reply.status).toBe(202);
    expect(reply.json).toMatchObject({ matched: 1 });
    expect(reply.json.skipped).toEqual([
      { eventId: 'no-such-event', why: 'no such event' },
      { eventId: held.eventId, why: expect.stringContaining('QUEUED') },
    ]);
    await untilDone('rr-ids-1');
    expect((await statusOf(byId.eventId)).rounds).toEqual([
      expect.objectContaining({ round: 2, requestId: 'rr-ids-1', outcome: 'ROUTED' }),
    ]);
    expect(await statusOf(held.eventId)).toMatchObject({ status: 'QUEUED' });
  });

  it('re-routes a DEAD_LETTERED event: routed in its new round, its dead letter closed as RESOLVED', async () => {
    expect(await statusOf(dead.eventId)).toMatchObject({ status: 'DEAD_LETTERED' });
    expect(await shipment('SHP-RD')).toBeNull();
    const reply = await reroute({ requestId: 'rr-dead-1', reason: REASON, ids: [dead.eventId], confirm: true });
    expect(reply.status).toBe(202);
    expect(await untilDone('rr-dead-1')).toMatchObject({ routed: 1, failed: 0 });
    const view = await statusOf(dead.eventId);
    expect(view).toMatchObject({ status: 'ROUTED', routingRound: 2 });
    expect(view.rounds).toEqual([expect.objectContaining({ round: 2, outcome: 'ROUTED', applied: 'applied' })]);
    expect(await shipment('SHP-RD')).toMatchObject({ status: 'IN_TRANSIT', lastEventId: dead.eventId });
    const letter = await db.collection<DeadLetterRecord>(Collections.deadLetters).findOne({ eventId: dead.eventId });
    expect(letter?.status).toBe('RESOLVED');
  });

  it("keeps the shipment's out-of-order guard: an older event re-routed after a newer one does not roll it back", async () => {
    const before = await shipment('SHP-RO');
    expect(before).toMatchObject({ status: 'IN_TRANSIT', lastEventId: newer.eventId, version: 2 });
    const reply = await reroute({ requestId: 'rr-order-1', reason: REASON, ids: [older.eventId], confirm: true });
    expect(reply.status).toBe(202);
    expect(await untilDone('rr-order-1')).toMatchObject({ routed: 1 });
    expect((await statusOf(older.eventId)).rounds).toEqual([expect.objectContaining({ round: 2, outcome: 'ROUTED', applied: 'stale' })]);
    expect(await shipment('SHP-RO')).toEqual(before);
  });

  it('refuses bad input with 400 naming the field, a request without the operator key with 401, an unknown id with 404', async () => {
    const base = { requestId: 'rr-bad', reason: REASON };
    for (const [body, field] of [
      [{ ...base, ids: ['x'], hub: 'FRA-2' }, 'hub'],
      [{ ...base, filter: { from: '2026-11-24T00:00:00Z', to: '2026-11-25T00:00:01Z' } }, 'filter.to'],
      [base, 'filter'],
      [{ ...base, filter: {} }, 'filter.from'],
      [{ requestId: 'rr-bad', ids: ['x'] }, 'reason'],
      [{ ...base, ids: ['x'], filter: window }, 'ids'],
    ] as const) {
      const reply = await reroute(body);
      expect(reply.status, JSON.stringify(body)).toBe(400);
      expect(reply.json.error).toMatchObject({
        code: 'VALIDATION_FAILED',
        details: expect.arrayContaining([expect.objectContaining({ path: field })]),
      });
    }
    expect((await reroute({ ...base, ids: [byId.eventId], confirm: true }, null)).status).toBe(401);
    expect((await reroute({ ...base, ids: [byId.eventId], confirm: true }, 'wrong-key')).status).toBe(401);
    expect((await ops('GET', '/v1/ops/reroutes/rr-window-1', undefined, null)).status).toBe(401);
    expect((await ops('GET', '/v1/ops/reroutes/never-sent')).status).toBe(404);
    // Refused before anything happened: nothing was re-routed or recorded.
    expect(await db.collection(Collections.reroutes).countDocuments({ _id: 'rr-bad' as never })).toBe(0);
    expect((await ledgerOf(byId.eventId))!.routingRounds!.map((r) => r.requestId)).not.toContain('rr-bad');
  });

  it('re-routes through `serverless invoke local -f reroute`, and the audit trail records it and the HTTP requests', async () => {
    const before = await shipment('SHP-RV');
    const overHttp = await reroute({ requestId: 'rr-audit-http', reason: REASON, ids: [invoked.eventId, 'no-such-event'] });
    expect(overHttp.status).toBe(200);
    const body = { requestId: 'rr-invoke-1', reason: REASON, ids: [invoked.eventId] };
    const dry = await runCommand('npx', ['serverless', 'invoke', 'local', '-f', 'reroute', '--data', JSON.stringify(body)], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('"dryRun": true');
    const run = await runCommand(
      'npx',
      ['serverless', 'invoke', 'local', '-f', 'reroute', '--data', JSON.stringify({ ...body, confirm: true })],
      env,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(await untilDone('rr-invoke-1')).toMatchObject({ by: null, routed: 1 });
    // The latest event of its shipment: a new route, the status as it was.
    expect(await shipment('SHP-RV')).toMatchObject({
      status: 'OUT_FOR_DELIVERY',
      lastEventId: invoked.eventId,
      version: before!.version + 1,
    });
    expect((await statusOf(invoked.eventId)).rounds).toEqual([expect.objectContaining({ round: 2, by: null, outcome: 'ROUTED' })]);

    const audit = await ops('GET', '/v1/ops/audit?action=reroute&limit=100');
    const items = audit.json.items as Array<Omit<AuditRecord, 'at'>>;
    expect(items.slice(0, 2)).toMatchObject([
      {
        keyId: null,
        via: 'function reroute',
        action: 'reroute',
        dryRun: false,
        matched: 1,
        outcome: 'SUCCEEDED',
        request: { requestId: 'rr-invoke-1' },
      },
      {
        keyId: null,
        via: 'function reroute',
        action: 'reroute',
        dryRun: true,
        matched: 1,
        outcome: 'SUCCEEDED',
        request: { requestId: 'rr-invoke-1' },
      },
    ]);
    expect(items.find((r) => (r.request as { requestId?: string }).requestId === 'rr-audit-http')).toMatchObject({
      keyId: keyIdOf(KEY),
      via: 'POST /v1/ops/reroutes',
      action: 'reroute',
      dryRun: true,
      matched: 1,
      outcome: 'SUCCEEDED',
      request: { reason: REASON, ids: [invoked.eventId, 'no-such-event'], confirm: false },
    });
    expect(JSON.stringify(items)).not.toContain(KEY);
  });
});
