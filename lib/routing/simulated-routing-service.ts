import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { TransientRoutingError } from '../errors';
import type { RoutingDecision, RoutingRequest, RoutingService } from './types';

export interface SimulatedRoutingOptions {
  /** How long a call takes; about 2 s in the product. */
  latencyMs: number;
  /** Share of calls, 0..1, that fail with a transient error after the latency. */
  failureRate: number;
  /** Injectable randomness for unit tests. */
  random?: () => number;
  /** A failure rate set at run time (the load test's), overriding `failureRate` while defined. */
  failureRateOverride?: () => number | undefined;
}

const HUBS = ['AMS-1', 'FRA-2', 'LHR-3', 'MAD-4', 'WAW-5'] as const;
const FINAL_STATUSES = new Set(['DELIVERED', 'RETURNED', 'CANCELLED']);

/**
 * Stands in for the external routing service: the same latency and failure behaviour, and a
 * deterministic decision from the event and the shipment's current state. A latency longer
 * than ROUTING_TIMEOUT_MS times out at the port's deadline (`withDeadline`), like a real service.
 */
export class SimulatedRoutingService implements RoutingService {
  readonly #options: Required<SimulatedRoutingOptions>;

  constructor(options: SimulatedRoutingOptions) {
    this.#options = { random: Math.random, failureRateOverride: () => undefined, ...options };
  }

  async route(request: RoutingRequest): Promise<RoutingDecision> {
    const { latencyMs, random } = this.#options;
    const failureRate = this.#options.failureRateOverride() ?? this.#options.failureRate;
    // Cancelled with the call: a timed-out call does not go on to decide anything.
    await sleep(latencyMs, undefined, request.signal ? { signal: request.signal } : {});
    if (failureRate > 0 && random() < failureRate) {
      throw new TransientRoutingError('routing service answered 503');
    }
    return decideRoute(request);
  }
}

/** The routing rule itself, pure: a hub by shipment, a lane by service level and state. */
export function decideRoute({ event, shipment }: Pick<RoutingRequest, 'event' | 'shipment'>, now = new Date()): RoutingDecision {
  const digest = createHash('sha256').update(event.payload.shipmentId).digest();
  const hub = HUBS[digest[0]! % HUBS.length]!;
  const decidedAt = now.toISOString();
  if (shipment && FINAL_STATUSES.has(shipment.status.toUpperCase())) {
    return { hub, lane: 'hold', reason: `shipment already ${shipment.status}`, decidedAt };
  }
  const given = event.payload['serviceLevel'];
  const serviceLevel = typeof given === 'string' ? given.toLowerCase() : '';
  if (serviceLevel === 'express' || serviceLevel === 'priority') {
    return { hub, lane: 'express', reason: `service level ${serviceLevel}`, decidedAt };
  }
  return { hub, lane: 'standard', reason: shipment ? `known shipment at ${shipment.status}` : 'new shipment', decidedAt };
}
