import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { workerConfig } from '../../lib/config';
import { RoutingRejectedError, TransientRoutingError } from '../../lib/errors';
import { sharedRoutingService } from '../../lib/infrastructure';
import { parseShipmentEvent, type ShipmentEvent } from '../../lib/events/schema';
import { HttpRoutingService } from '../../lib/routing/http-routing-service';
import { decideRoute } from '../../lib/routing/simulated-routing-service';
import type { RoutingRequest } from '../../lib/routing/types';
import { withDeadline } from '../../lib/routing/with-deadline';
import { classifyFailure, FailureAction } from '../../lib/worker/classify-failure';
import { freePort } from '../../scripts/local-services';
import { sampleEvent } from '../../scripts/sample-event';
import { waitFor } from '../support/processes';
import { RoutingCallOutcome, startRoutingServer, type RoutingServer } from '../support/routing-server';

function shipmentEvent(overrides: Parameters<typeof sampleEvent>[0] = {}): ShipmentEvent {
  const parsed = parseShipmentEvent(sampleEvent(overrides));
  if (!parsed.ok) throw new Error('bad sample');
  return parsed.event;
}

function request(event = shipmentEvent(), correlationId = `corr-${event.eventId}`): RoutingRequest {
  return { event, shipment: null, correlationId };
}

describe('the HTTP routing adapter, against a real routing service', () => {
  let server: RoutingServer;
  let routing: HttpRoutingService;

  beforeEach(async () => {
    server = await startRoutingServer();
    routing = new HttpRoutingService({ url: server.url });
  });
  afterEach(() => server.close());

  it("returns the service's decision, sent with the event's correlation id and idempotency key", async () => {
    const event = shipmentEvent({ payload: { shipmentId: 'SHP-http-1', status: 'IN_TRANSIT', serviceLevel: 'express' } });
    const decision = await routing.route(request(event, 'corr-http-1'));
    const expected = decideRoute({ event, shipment: null });
    expect(decision).toMatchObject({ hub: expected.hub, lane: 'express', reason: expected.reason });
    expect(server.calls()).toEqual([
      {
        idempotencyKey: event.idempotencyKey,
        correlationId: 'corr-http-1',
        eventId: event.eventId,
        outcome: RoutingCallOutcome.ROUTED,
        at: expect.any(Number),
        endedAt: expect.any(Number),
      },
    ]);
    expect(server.successesByKey()).toEqual(new Map([[event.idempotencyKey, 1]]));
  });

  it('sends the shipment as it stands, which the decision depends on', async () => {
    const event = shipmentEvent();
    const shipment = {
      _id: event.payload.shipmentId,
      status: 'DELIVERED',
      lastEventId: 'e0',
      firstEventId: 'e0',
      lastEventAt: new Date(),
      history: [],
      updatedAt: new Date(),
      version: 1,
    };
    await expect(routing.route({ event, shipment, correlationId: 'c' })).resolves.toMatchObject({ lane: 'hold' });
  });

  it.each([503, 500, 429])('treats a %i as a transient failure (retried, counted by the breaker)', async (status) => {
    server.set({ failureRate: 1, failureStatus: status });
    const error: unknown = await routing.route(request()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TransientRoutingError);
    expect((error as Error).message).toBe(`routing service answered ${status}`);
  });

  it.each([400, 404, 422])('treats a %i as a refusal: dead-lettered at once, ROUTING_REJECTED', async (status) => {
    server.set({ failureRate: 1, failureStatus: status });
    const error: unknown = await routing.route(request()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RoutingRejectedError);
    expect((error as Error).message).toContain(`refused the event with ${status}: {"error":"routing failed (injected)"}`);
    expect(classifyFailure(error)).toEqual({ action: FailureAction.DEAD_LETTER, reason: 'ROUTING_REJECTED' });
  });

  it('sends the credential of ROUTING_AUTH_HEADER on every call, as the worker is wired, and is refused without it', async () => {
    server.set({ authorization: 'Bearer routing-credential' });
    const { routing: settings } = workerConfig({
      ROUTING_URL: server.url,
      ROUTING_AUTH_HEADER: 'Authorization: Bearer routing-credential',
    });
    const worker = await sharedRoutingService(settings);
    const event = shipmentEvent();
    await expect(worker.route(request(event))).resolves.toMatchObject({ hub: decideRoute({ event, shipment: null }).hub });
    await expect(routing.route(request())).rejects.toThrow(RoutingRejectedError);
    expect(server.calls().map((call) => call.outcome)).toEqual([RoutingCallOutcome.ROUTED, RoutingCallOutcome.UNAUTHORIZED]);
  });

  it('treats a service that does not listen as a transient failure', async () => {
    const nobody = new HttpRoutingService({ url: `http://127.0.0.1:${await freePort()}/route` });
    await expect(nobody.route(request())).rejects.toThrow(/^routing service unreachable: TypeError: fetch failed: .*ECONNREFUSED/);
  });

  it("gives up on a hanging service at the port's deadline and hangs up on it", async () => {
    server.set({ hang: true });
    const event = shipmentEvent();
    await expect(withDeadline(routing, 300).route(request(event))).rejects.toThrow(
      new TransientRoutingError('routing timed out after 300 ms'),
    );
    // The abort reached the socket: the service saw the caller hang up, and routed nothing.
    await waitFor('the routing service to see the hang-up', async () =>
      server.calls()[0]?.outcome === RoutingCallOutcome.ABORTED ? true : undefined,
    );
    expect(server.calls()).toMatchObject([{ eventId: event.eventId, idempotencyKey: event.idempotencyKey }]);
    expect(server.successesByKey().size).toBe(0);
  });

  it('answers again once the service does, each success counted by key', async () => {
    server.set({ latencyMs: 20 });
    const events = [shipmentEvent(), shipmentEvent()];
    await Promise.all(events.map((event) => routing.route(request(event))));
    await routing.route(request(events[0]));
    expect(server.successesByKey()).toEqual(
      new Map([
        [events[0]!.idempotencyKey, 2],
        [events[1]!.idempotencyKey, 1],
      ]),
    );
  });
});

describe('the HTTP routing adapter, on answers a routing service should not give', () => {
  const answering = (response: () => Response) =>
    new HttpRoutingService({ url: 'http://routing.invalid/route', fetch: () => Promise.resolve(response()) });

  it('treats a 2xx that is not a decision as a transient failure naming the bad fields', async () => {
    const routing = answering(() => Response.json({ hub: '', lane: 'overnight', reason: 'x', decidedAt: 'yesterday' }));
    await expect(routing.route(request())).rejects.toThrow(
      new TransientRoutingError('routing service answered 200 without a valid decision (hub, lane, decidedAt)'),
    );
  });

  it('treats a 2xx without a JSON body as a transient failure', async () => {
    const routing = answering(() => new Response('<html>', { status: 200 }));
    await expect(routing.route(request())).rejects.toBeInstanceOf(TransientRoutingError);
  });
});
