import type { ShipmentEvent } from '../events/schema';
import type { ShipmentState } from '../shipments/shipment-store';
import type { RoutingDecision } from './routing-decision';

export type { RoutingDecision };

export interface RoutingRequest {
  event: ShipmentEvent;
  /** The shipment as it stands before this event, if known. */
  shipment: ShipmentState | null;
  /** The event's correlation id, passed on to the routing service and onto its logs. */
  correlationId: string;
  /**
   * Aborted when the caller stops waiting (the port's deadline, {@link withDeadline}): an
   * adapter gives it to its I/O, so an abandoned call does not keep a socket busy.
   */
  signal?: AbortSignal;
}

/** Port: the slow, sometimes failing routing service. */
export interface RoutingService {
  route(request: RoutingRequest): Promise<RoutingDecision>;
}
