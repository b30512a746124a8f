import { z } from 'zod';
import type { FieldIssue } from '../errors';

/**
 * The one schema of an inbound courier event. The TypeScript types below are derived from it,
 * so the contract in the README, the validation and the code cannot drift apart.
 */
export const shipmentEventSchema = z.object({
  eventId: z.string().trim().min(1).max(128),
  eventType: z.string().trim().min(1).max(128),
  occurredAt: z.iso.datetime({ offset: true }),
  source: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, underscore or dash'),
  idempotencyKey: z.string().min(1).max(256).optional(),
  payload: z.looseObject({
    shipmentId: z.string().trim().min(1).max(128),
    orderId: z.string().trim().min(1).max(128).optional(),
    status: z.string().trim().min(1).max(64),
  }),
});

export type ShipmentEventInput = z.input<typeof shipmentEventSchema>;

/** An accepted event: validated, with its idempotency key filled in. */
export type ShipmentEvent = z.output<typeof shipmentEventSchema> & { idempotencyKey: string };

/**
 * An operator's re-route, carried by its job: the routing round it gives the event (round 1 is
 * the original processing), the request it belongs to, why, who asked (a key id; null through
 * the function) and when. See lib/reroutes/.
 */
export const rerouteOrderSchema = z.strictObject({
  round: z.number().int().min(2),
  requestId: z.string().min(1).max(128),
  reason: z.string().min(1).max(500),
  by: z.string().nullable(),
  at: z.iso.datetime({ offset: true }),
});
export type RerouteOrder = z.output<typeof rerouteOrderSchema>;

/** What travels in a queued job: the event and what the edge learned about the request. */
export interface QueuedEvent {
  event: ShipmentEvent;
  correlationId: string;
  receivedAt: string;
  /** Present on a re-route's job only. */
  reroute?: RerouteOrder;
}

/** Deeper payloads are refused: nothing downstream should recurse without bound. */
export const MAX_PAYLOAD_DEPTH = 16;

/** How deeply objects and arrays nest in a JSON value (a scalar is 0), counted without recursion. */
export function nestingDepth(value: unknown, stopAfter = Number.POSITIVE_INFINITY): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    deepest = Math.max(deepest, depth + 1);
    if (deepest > stopAfter) return deepest;
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return deepest;
}

export type ParseResult = { ok: true; event: ShipmentEvent } | { ok: false; issues: FieldIssue[] };

/** The default idempotency key: one event id per source is one event. */
export function defaultIdempotencyKey(source: string, eventId: string): string {
  return `${source}:${eventId}`;
}

/**
 * Validates an already-parsed JSON value as an event and fills in its idempotency key.
 *
 * @example
 * const result = parseShipmentEvent(JSON.parse(body));
 * if (!result.ok) console.log(result.issues); // [{ path: 'payload.status', message: '...' }]
 */
export function parseShipmentEvent(value: unknown): ParseResult {
  const result = shipmentEventSchema.safeParse(value);
  if (!result.success) {
    return {
      ok: false,
      issues: result.error.issues.map((issue) => ({
        path: issue.path.map(String).join('.') || '(body)',
        message: issue.message,
      })),
    };
  }
  const event = result.data;
  if (nestingDepth(event.payload, MAX_PAYLOAD_DEPTH) > MAX_PAYLOAD_DEPTH) {
    return { ok: false, issues: [{ path: 'payload', message: `nested deeper than ${MAX_PAYLOAD_DEPTH} levels` }] };
  }
  return {
    ok: true,
    event: { ...event, idempotencyKey: event.idempotencyKey ?? defaultIdempotencyKey(event.source, event.eventId) },
  };
}
