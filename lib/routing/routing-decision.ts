/**
 * What the routing service decided for one event. Its own module: the shipment store keeps one
 * on each shipment, and the routing port reads the shipment, so neither imports the other.
 */
export interface RoutingDecision {
  hub: string;
  lane: 'standard' | 'express' | 'hold';
  reason: string;
  decidedAt: string;
}
