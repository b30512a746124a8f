import { describe, expect, it } from 'vitest';
import { MAX_PAYLOAD_DEPTH, nestingDepth, parseShipmentEvent } from '../../lib/events/schema';
import { payloadHash } from '../../lib/events/payload-hash';

const valid = {
  eventId: 'e-1',
  eventType: 'shipment.status_changed',
  occurredAt: '2026-11-24T10:00:00+01:00',
  source: 'dhl',
  payload: { shipmentId: 'S-1', status: 'IN_TRANSIT', weightKg: 2.5 },
};

describe('the event schema', () => {
  it('accepts a valid event and defaults its idempotency key to <source>:<eventId>', () => {
    const result = parseShipmentEvent(valid);
    expect(result).toMatchObject({ ok: true, event: { idempotencyKey: 'dhl:e-1' } });
  });

  it('keeps a producer-chosen idempotency key and extra payload fields', () => {
    const result = parseShipmentEvent({ ...valid, idempotencyKey: 'custom-key' });
    expect(result.ok && result.event.idempotencyKey).toBe('custom-key');
    expect(result.ok && result.event.payload.weightKg).toBe(2.5);
  });

  it('lists every field error with its path', () => {
    const result = parseShipmentEvent({ ...valid, occurredAt: 'yesterday', source: 'bad source!', payload: { status: 1 } });
    expect(result.ok).toBe(false);
    const paths = !result.ok ? result.issues.map((issue) => issue.path).sort() : [];
    expect(paths).toEqual(['occurredAt', 'payload.shipmentId', 'payload.status', 'source']);
  });

  it('rejects a body that is not an object', () => {
    for (const body of [null, 42, 'text', []]) {
      const result = parseShipmentEvent(body);
      expect(result.ok).toBe(false);
    }
  });
});

describe('payload fingerprints', () => {
  it('are the same whatever the key order', () => {
    const a = parseShipmentEvent(valid);
    const b = parseShipmentEvent({
      payload: { weightKg: 2.5, status: 'IN_TRANSIT', shipmentId: 'S-1' },
      source: 'dhl',
      occurredAt: valid.occurredAt,
      eventType: valid.eventType,
      eventId: 'e-1',
    });
    expect(a.ok && b.ok && payloadHash(a.event) === payloadHash(b.event)).toBe(true);
  });

  it('differ when the payload differs', () => {
    const a = parseShipmentEvent(valid);
    const b = parseShipmentEvent({ ...valid, payload: { ...valid.payload, status: 'DELIVERED' } });
    expect(a.ok && b.ok && payloadHash(a.event) !== payloadHash(b.event)).toBe(true);
  });
});

describe('hostile shapes', () => {
  it('refuses payloads nested deeper than the limit, measured without recursion', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(nestingDepth(deep)).toBe(100_000);
    const result = parseShipmentEvent({ ...valid, payload: { ...valid.payload, extra: deep } });
    expect(result).toEqual({ ok: false, issues: [{ path: 'payload', message: `nested deeper than ${MAX_PAYLOAD_DEPTH} levels` }] });
  });
});
