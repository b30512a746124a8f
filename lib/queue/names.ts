import { createHash } from 'node:crypto';

/** The queue every accepted event goes to. */
export const EVENTS_QUEUE = 'events';
/** A job per PENDING dead letter, derived from its Mongo record (the truth replay drains). */
export const DEAD_LETTER_QUEUE = 'events-dlq';

/**
 * The backoff type every event job carries: it selects the worker's `backoffStrategy`, which
 * returns the retry delay the failed attempt chose (lib/worker/event-worker.ts).
 */
export const BACKOFF_STRATEGY = 'capped-exponential';

/**
 * The BullMQ job id for an idempotency key. BullMQ ignores an add whose id is already held,
 * which suppresses duplicate storms; ids may not be integers or contain ':', so the key is hashed.
 */
export function jobIdFor(idempotencyKey: string): string {
  return `evt-${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 40)}`;
}
