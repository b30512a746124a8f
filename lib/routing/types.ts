import type { ShipmentEvent } from '../events/schema';
import type { ShipmentState } from '../shipments/shipment-store';
import type { RoutingDecision } from './routing-decision';

export type { RoutingDecision };

export interface RoutingRequest {
  event: ShipmentEvent;
  /** The shipment as it stands before this event, if known. */
  shipment: ShipmentState | null;
}

/** Port: the slow, sometimes failing routing service. */
export interface RoutingService {
  route(request: RoutingRequest): Promise<RoutingDecision>;
}
