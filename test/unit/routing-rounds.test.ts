import { describe, expect, it } from 'vitest';
import { EventStatus } from '../../lib/events/status';
import { whyNotClaimable, type LedgerEntry } from '../../lib/ledger/ledger';
import { decideApplication, type AppliedEvent } from '../../lib/shipments/shipment-store';

const at = (hour: number) => new Date(Date.UTC(2026, 10, 24, hour));
const applied = (eventId: string, hour: number, round?: number): AppliedEvent => ({
  eventId,
  eventType: 'shipment.status_changed',
  status: 'X',
  occurredAt: at(hour),
  appliedAt: at(hour),
  ...(round ? { round } : {}),
});

/** A shipment at E2 (10:00), having applied E1 (09:00) before it. */
const shipment = { history: [applied('E1', 9), applied('E2', 10)], lastEventId: 'E2', lastEventAt: at(10) };

describe('applying a routing round to a shipment', () => {
  it('keeps the first round as it was: once, and never back in time', () => {
    expect(decideApplication(shipment, { eventId: 'E3', occurredAt: at(11) })).toBe('advance');
    expect(decideApplication(shipment, { eventId: 'E2', occurredAt: at(10) })).toBe('already-applied');
    expect(decideApplication(shipment, { eventId: 'E0', occurredAt: at(8) })).toBe('stale');
  });

  it("re-routes the shipment's latest event: a new version, its status unchanged", () => {
    expect(decideApplication(shipment, { eventId: 'E2', occurredAt: at(10) }, 2)).toBe('reroute');
  });

  it('does not roll the shipment back when an older event is re-routed', () => {
    expect(decideApplication(shipment, { eventId: 'E1', occurredAt: at(9) }, 2)).toBe('stale');
  });

  it('applies each round once', () => {
    const rerouted = { ...shipment, history: [...shipment.history, applied('E2', 10, 2)] };
    expect(decideApplication(rerouted, { eventId: 'E2', occurredAt: at(10) }, 2)).toBe('already-applied');
    expect(decideApplication(rerouted, { eventId: 'E2', occurredAt: at(10) }, 3)).toBe('reroute');
  });

  it('applies a re-routed event that was never applied (it was dead-lettered) as the first round would', () => {
    expect(decideApplication(shipment, { eventId: 'E9', occurredAt: at(12) }, 2)).toBe('advance');
    expect(decideApplication(shipment, { eventId: 'E8', occurredAt: at(8) }, 2)).toBe('stale');
  });
});

const entry = (status: EventStatus, routingRound?: number) =>
  ({ _id: 'k', payloadHash: 'h', status, leaseUntil: null, ...(routingRound ? { routingRound } : {}) }) as unknown as LedgerEntry;
const now = at(12);

describe("claiming an event for a re-route's round", () => {
  it('opens the next round once the current one has ended, ROUTED or DEAD_LETTERED', () => {
    expect(whyNotClaimable(entry(EventStatus.ROUTED), 'h', now, { round: 2 })).toBeNull();
    expect(whyNotClaimable(entry(EventStatus.DEAD_LETTERED), 'h', now, { round: 2 })).toBeNull();
    expect(whyNotClaimable(entry(EventStatus.ROUTED, 2), 'h', now, { round: 3 })).toBeNull();
  });

  it('waits while the current round is under way', () => {
    expect(whyNotClaimable(entry(EventStatus.FAILED), 'h', now, { round: 2 })).toMatchObject({ kind: 'busy' });
  });

  it('finds a round already done a duplicate, whether it is the current one or a past one', () => {
    expect(whyNotClaimable(entry(EventStatus.ROUTED, 2), 'h', now, { round: 2 })).toMatchObject({ kind: 'done' });
    expect(whyNotClaimable(entry(EventStatus.ROUTED, 3), 'h', now, { round: 2 })).toMatchObject({ kind: 'done' });
  });

  it('retries its own round like any claim', () => {
    expect(whyNotClaimable(entry(EventStatus.FAILED, 2), 'h', now, { round: 2 })).toBeNull();
  });

  it('leaves a job without a round as it was: a routed event is done', () => {
    expect(whyNotClaimable(entry(EventStatus.ROUTED, 2), 'h', now)).toMatchObject({ kind: 'done' });
  });
});
