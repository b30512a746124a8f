/**
 * Where an event is in its life. A producer may conclude:
 * QUEUED — durably accepted, not yet picked up; ROUTING_PENDING — a worker holds it now;
 * FAILED — the last attempt failed and another is scheduled; ROUTED — done, effects applied once;
 * DEAD_LETTERED — gave up, kept with its error and history until an operator replays it.
 */
export const EventStatus = {
  QUEUED: 'QUEUED',
  ROUTING_PENDING: 'ROUTING_PENDING',
  ROUTED: 'ROUTED',
  FAILED: 'FAILED',
  DEAD_LETTERED: 'DEAD_LETTERED',
} as const;

export type EventStatus = (typeof EventStatus)[keyof typeof EventStatus];
