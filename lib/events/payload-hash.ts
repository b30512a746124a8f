import { createHash } from 'node:crypto';
import type { ShipmentEvent } from './schema';

/** JSON with object keys sorted, so the same content always gives the same text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * A fingerprint of what an event says (everything but its idempotency key), independent of key
 * order: the same key arriving with a different fingerprint is a conflict, not a duplicate.
 */
export function payloadHash(event: ShipmentEvent): string {
  const { idempotencyKey: _key, ...content } = event;
  return createHash('sha256').update(canonicalJson(content)).digest('hex');
}
