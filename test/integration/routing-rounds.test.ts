import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { payloadHash } from '../../lib/events/payload-hash';
import { parseShipmentEvent, type QueuedEvent, type RerouteOrder, type ShipmentEventInput } from '../../lib/events/schema';
import { MongoLedger, type ClaimToken, type LedgerEntry } from '../../lib/ledger/ledger';
import { readApplications } from '../../lib/shipments/applications';
import { MongoShipmentStore } from '../../lib/shipments/shipment-store';
import { sampleEvent } from '../../scripts/sample-event';
import { freshDatabase } from '../support/mongo';

function queued(input: ShipmentEventInput = sampleEvent(), reroute?: RerouteOrder): QueuedEvent {
  const parsed = parseShipmentEvent(input);
  if (!parsed.ok) throw new Error('bad sample');
  return { event: parsed.event, correlationId: 'c-1', receivedAt: new Date().toISOString(), ...(reroute ? { reroute } : {}) };
}

const route = (hub: string) => ({ hub, lane: 'standard' as const, reason: 'test', decidedAt: new Date().toISOString() });
const order = (round: number): RerouteOrder => ({
  round,
  requestId: `req-${round}`,
  reason: 'hub closed',
  by: 'abcd1234',
  at: new Date().toISOString(),
});
const token = (entry: LedgerEntry, owner: string): ClaimToken => ({
  key: entry._id,
  owner,
  round: entry.round ?? 1,
  attempts: entry.attempts,
  ...(entry.currentReroute ? { reroute: entry.currentReroute } : {}),
});

/** The rounds of a re-route in the ledger and the shipment store, on the real Mongo-wire server. */
describe('routing rounds (real Mongo-wire server)', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let ledger: MongoLedger;
  let shipments: MongoShipmentStore;

  beforeAll(async () => {
    database = await freshDatabase('rounds');
    ledger = new MongoLedger(database.db);
    shipments = new MongoShipmentStore(database.db);
  });
  afterAll(async () => database.close());

  /** An event claimed and routed once (round 1). */
  async function routedOnce(item: QueuedEvent): Promise<string> {
    const hash = payloadHash(item.event);
    const claim = await ledger.claimEvent({ item, payloadHash: hash, owner: 'w0', leaseMs: 30_000 });
    if (claim.kind !== 'claimed') throw new Error(claim.kind);
    expect(await ledger.markRouted(token(claim.entry, 'w0'), route('AMS-1'))).toBe(true);
    return hash;
  }

  it("opens a re-route's round once for concurrent deliveries of its job, and records it when it ends", async () => {
    const first = queued();
    const hash = await routedOnce(first);
    const item = { ...first, reroute: order(2) };
    const claims = await Promise.all(
      Array.from({ length: 6 }, (_, i) => ledger.claimEvent({ item, payloadHash: hash, owner: `w${i}`, leaseMs: 30_000 })),
    );
    const won = claims.filter((c) => c.kind === 'claimed');
    expect(won).toHaveLength(1);
    expect(won[0]!.entry).toMatchObject({ routingRound: 2, attempts: 1, currentReroute: { round: 2, requestId: 'req-2' } });
    expect(await ledger.markRouted(token(won[0]!.entry, won[0]!.entry.leaseOwner!), route('FRA-2'), 'applied')).toBe(true);
    const entry = await ledger.findByKey(first.event.idempotencyKey);
    expect(entry).toMatchObject({ status: 'ROUTED', routingRound: 2, routing: { hub: 'FRA-2' } });
    expect(entry!.routingRounds).toEqual([
      expect.objectContaining({
        round: 2,
        requestId: 'req-2',
        reason: 'hub closed',
        by: 'abcd1234',
        outcome: 'ROUTED',
        applied: 'applied',
      }),
    ]);
    // The same round's job again, and the original job again: nothing more.
    expect((await ledger.claimEvent({ item, payloadHash: hash, owner: 'late', leaseMs: 30_000 })).kind).toBe('done');
    expect((await ledger.claimEvent({ item: first, payloadHash: hash, owner: 'late', leaseMs: 30_000 })).kind).toBe('done');
  });

  it("changes only the route of the shipment's latest event, once per round, and never rolls the shipment back", async () => {
    const e1 = queued(sampleEvent({ occurredAt: '2026-11-24T09:00:00Z', payload: { shipmentId: 'S-R1', status: 'PICKED_UP' } }));
    const e2 = queued(sampleEvent({ occurredAt: '2026-11-24T10:00:00Z', payload: { shipmentId: 'S-R1', status: 'IN_TRANSIT' } }));
    expect(await shipments.applyEvent(e1.event, route('AMS-1'))).toBe('applied');
    expect(await shipments.applyEvent(e2.event, route('AMS-1'))).toBe('applied');
    // E1 re-routed after the newer E2: the shipment stays at E2.
    expect(await shipments.applyEvent(e1.event, route('WAW-5'), undefined, 2)).toBe('stale');
    expect(await shipments.getShipment('S-R1')).toMatchObject({
      status: 'IN_TRANSIT',
      lastEventId: e2.event.eventId,
      version: 2,
      route: { hub: 'AMS-1' },
    });
    // E2 re-routed, its round delivered four times at once: one new version with the new route.
    const outcomes = await Promise.all(Array.from({ length: 4 }, () => shipments.applyEvent(e2.event, route('LHR-3'), undefined, 2)));
    expect(outcomes.filter((o) => o === 'applied')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'already-applied')).toHaveLength(3);
    const shipment = await shipments.getShipment('S-R1');
    expect(shipment).toMatchObject({ status: 'IN_TRANSIT', lastEventId: e2.event.eventId, version: 3, route: { hub: 'LHR-3' } });
    expect(shipment!.history.map((h) => [h.eventId, h.round ?? 1])).toEqual([
      [e1.event.eventId, 1],
      [e2.event.eventId, 1],
      [e2.event.eventId, 2],
    ]);
    expect((await readApplications(database.db, 'S-R1')).map((a) => a.version).sort()).toEqual([1, 2, 3]);
  });
});
