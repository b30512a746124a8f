import { randomUUID } from 'node:crypto';
import type { ShipmentEventInput } from '../lib/events/schema';
import { signBody, SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../lib/ingest/signature';

/** A valid courier event with fresh ids; any field can be overridden. */
export function sampleEvent(overrides: Partial<ShipmentEventInput> = {}): ShipmentEventInput {
  const eventId = overrides.eventId ?? `evt-${randomUUID()}`;
  return {
    eventId,
    eventType: 'shipment.status_changed',
    occurredAt: new Date().toISOString(),
    source: 'dhl',
    ...overrides,
    payload: {
      shipmentId: `SHP-${randomUUID().slice(0, 8)}`,
      orderId: `ORD-${randomUUID().slice(0, 8)}`,
      status: 'IN_TRANSIT',
      ...overrides.payload,
    },
  };
}

/** The headers that make a body pass the gateway's signature check. */
export function signedHeaders(secret: string, body: string, nowSeconds = Math.floor(Date.now() / 1000)): Record<string, string> {
  const timestamp = String(nowSeconds);
  return {
    'content-type': 'application/json',
    [TIMESTAMP_HEADER]: timestamp,
    [SIGNATURE_HEADER]: signBody(secret, timestamp, body),
  };
}
