import { z } from 'zod';

/**
 * What the routing service decided for one event. Its own module: the shipment store keeps one
 * on each shipment, and the routing port reads the shipment, so neither imports the other. The
 * schema checks what an external routing service answers; the type is inferred from it.
 */
export const routingDecisionSchema = z.object({
  hub: z.string().min(1),
  lane: z.enum(['standard', 'express', 'hold']),
  reason: z.string(),
  decidedAt: z.iso.datetime({ offset: true }),
});

export type RoutingDecision = z.output<typeof routingDecisionSchema>;
