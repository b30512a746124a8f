import type { ShipmentEvent } from '../events/schema';
import type { ShipmentState } from '../shipments/shipment-store';

/** What the routing service decided for one event. */
export interface RoutingDecision {
  hub: string;
  lane: 'standard' | 'express' | 'hold';
  reason: string;
  decidedAt: string;
}

export interface RoutingRequest {
  event: ShipmentEvent;
  /** The shipment as it stands before this event, if known. */
  shipment: ShipmentState | null;
}

/** Port: the slow, sometimes failing routing service. */
export interface RoutingService {
  route(request: RoutingRequest): Promise<RoutingDecision>;
}
