import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseShipmentEvent, type ShipmentEvent } from '../../lib/events/schema';
import { readApplications } from '../../lib/shipments/applications';
import { MongoShipmentStore, SHIPMENT_HISTORY_LIMIT } from '../../lib/shipments/shipment-store';
import { Collections } from '../../lib/store/mongo';
import { ManualClock } from '../support/clock';
import { dyingAt, freshDatabase } from '../support/mongo';

const routing = { hub: 'AMS-1', lane: 'standard' as const, reason: 'test', decidedAt: new Date().toISOString() };

function event(shipmentId: string, eventId: string, status: string, occurredAt: string): ShipmentEvent {
  const parsed = parseShipmentEvent({
    eventId,
    eventType: 'shipment.status_changed',
    occurredAt,
    source: 'dhl',
    payload: { shipmentId, status },
  });
  if (!parsed.ok) throw new Error('bad event');
  return parsed.event;
}

describe('shipment state (real Mongo-wire server)', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let store: MongoShipmentStore;

  beforeAll(async () => {
    database = await freshDatabase('shipments');
    store = new MongoShipmentStore(database.db);
  });
  afterAll(async () => database.close());

  it('never lets a late, older event regress the shipment', async () => {
    expect(await store.applyEvent(event('S-1', 'e2', 'DELIVERED', '2026-11-24T12:00:00Z'), routing)).toBe('applied');
    expect(await store.applyEvent(event('S-1', 'e1', 'IN_TRANSIT', '2026-11-24T10:00:00Z'), routing)).toBe('stale');
    expect(await store.getShipment('S-1')).toMatchObject({ status: 'DELIVERED', lastEventId: 'e2', history: [{ eventId: 'e2' }] });
  });

  it('applies the same event once, however often it arrives', async () => {
    const e = event('S-2', 'e1', 'PICKED_UP', '2026-11-24T10:00:00Z');
    expect(await store.applyEvent(e, routing)).toBe('applied');
    expect(await store.applyEvent(e, routing)).toBe('already-applied');
    expect((await store.getShipment('S-2'))?.history).toHaveLength(1);
  });

  /** What the worker does: read the shipment before routing, then apply with what it read. */
  async function applyAsWorker(e: ShipmentEvent) {
    return store.applyEvent(e, routing, await store.getShipment(e.payload.shipmentId));
  }

  it('ends in the state of the newest event when events arrive out of order', async () => {
    const times = ['10', '11', '12', '13'].map((h) => `2026-11-24T${h}:00:00Z`);
    const statuses = ['PICKED_UP', 'IN_TRANSIT', 'OUT_FOR_DELIVERY', 'DELIVERED'];
    const outcomes = [];
    for (const i of [2, 0, 3, 1]) outcomes.push(await applyAsWorker(event('S-3', `e${i}`, statuses[i]!, times[i]!)));
    expect(outcomes).toEqual(['applied', 'stale', 'applied', 'stale']);
    expect(await store.getShipment('S-3')).toMatchObject({
      status: 'DELIVERED',
      lastEventId: 'e3',
      history: [{ eventId: 'e2' }, { eventId: 'e3' }],
    });
  });

  it('creates a new shipment once when two events for it were routed side by side', async () => {
    const newer = event('S-5', 'e2', 'IN_TRANSIT', '2026-11-24T11:00:00Z');
    const older = event('S-5', 'e1', 'PICKED_UP', '2026-11-24T10:00:00Z');
    // Both workers read the shipment before either wrote it.
    const [seenByNewer, seenByOlder] = await Promise.all([store.getShipment('S-5'), store.getShipment('S-5')]);
    expect(seenByNewer).toBeNull();
    expect(await store.applyEvent(newer, routing, seenByNewer)).toBe('applied');
    expect(await store.applyEvent(older, routing, seenByOlder)).toBe('stale');
    expect(await store.applyEvent(newer, routing, seenByNewer)).toBe('already-applied');
    expect(await store.getShipment('S-5')).toMatchObject({ status: 'IN_TRANSIT', lastEventId: 'e2', history: [{ eventId: 'e2' }] });
  });

  it('applies concurrent events for one shipment one at a time: none lost, the newest wins', async () => {
    await applyAsWorker(event('S-6', 'e-first', 'PICKED_UP', '2026-11-24T08:00:00Z'));
    const events = Array.from({ length: 20 }, (_, i) =>
      event('S-6', `e${i}`, `STEP_${i}`, new Date(Date.UTC(2026, 10, 24, 9, i)).toISOString()),
    );
    const outcomes = await Promise.all(events.map((e) => applyAsWorker(e)));
    const shipment = await store.getShipment('S-6');
    expect(shipment).toMatchObject({ status: 'STEP_19', lastEventId: 'e19' });
    expect(outcomes[19]).toBe('applied');
    expect(outcomes.every((o) => o === 'applied' || o === 'stale')).toBe(true);
    // Every event reported applied is in the history, once, in the order applied (oldest first).
    const applied = events.filter((_, i) => outcomes[i] === 'applied').map((e) => e.eventId);
    const history = shipment!.history.map((h) => h.eventId);
    expect(history.slice(1).sort()).toEqual([...applied].sort());
    expect(new Set(history).size).toBe(history.length);
    const times = shipment!.history.map((h) => new Date(h.occurredAt).getTime());
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it('finishes a change whose writer died after taking its version', async () => {
    const clock = new ManualClock();
    const dying = new MongoShipmentStore(dyingAt(database.db, Collections.shipments, 'updateOne'), { now: clock.now });
    await applyAsWorker(event('S-7', 'e1', 'PICKED_UP', '2026-11-24T08:00:00Z'));
    const lost = event('S-7', 'e2', 'IN_TRANSIT', '2026-11-24T09:00:00Z');
    await expect(dying.applyEvent(lost, routing, await store.getShipment('S-7'))).rejects.toThrow('process died');
    // Past the time a taken version may stay unwritten, the next writer finishes it.
    const abandonedAfterMs = 30_000;
    clock.advance(abandonedAfterMs);
    const survivor = new MongoShipmentStore(database.db, { abandonedAfterMs, now: clock.now });
    const next = event('S-7', 'e3', 'OUT_FOR_DELIVERY', '2026-11-24T10:00:00Z');
    expect(await survivor.applyEvent(next, routing, await store.getShipment('S-7'))).toBe('applied');
    expect(await store.getShipment('S-7')).toMatchObject({
      status: 'OUT_FOR_DELIVERY',
      version: 3,
      history: [{ eventId: 'e1' }, { eventId: 'e2' }, { eventId: 'e3' }],
    });
  });

  it('keeps a bounded history of applied events', async () => {
    for (let i = 0; i < SHIPMENT_HISTORY_LIMIT + 5; i++) {
      await applyAsWorker(event('S-4', `e${i}`, 'IN_TRANSIT', new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString()));
    }
    const shipment = await store.getShipment('S-4');
    expect(shipment?.history).toHaveLength(SHIPMENT_HISTORY_LIMIT);
    expect(shipment?.history.at(-1)?.eventId).toBe(`e${SHIPMENT_HISTORY_LIMIT + 4}`);
  });

  it('keeps every application on record after the history is trimmed, each event once', async () => {
    const count = SHIPMENT_HISTORY_LIMIT + 5;
    for (let i = 0; i < count; i++) {
      await applyAsWorker(event('AUDIT-1', `a${i}`, 'IN_TRANSIT', new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString()));
    }
    await applyAsWorker(event('AUDIT-1', 'a0', 'IN_TRANSIT', new Date(Date.UTC(2026, 0, 1, 0, 0)).toISOString()));
    await applyAsWorker(event('AUDIT-2', 'b0', 'PICKED_UP', '2026-11-24T08:00:00Z'));
    const applications = await readApplications(database.db, 'AUDIT-1');
    expect(applications.map((a) => a.eventId).sort()).toEqual(Array.from({ length: count }, (_, i) => `a${i}`).sort());
    expect(applications.map((a) => a.version).sort((x, y) => x - y)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    expect(await readApplications(database.db, 'AUDIT-2')).toEqual([{ shipmentId: 'AUDIT-2', eventId: 'b0', version: 1 }]);
  });
});
