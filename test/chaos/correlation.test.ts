import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShipmentEventInput } from '../../lib/events/schema';
import { sampleEvent, signedHeaders } from '../../scripts/sample-event';
import { waitFor, type RunningProcess } from '../support/processes';
import { RoutingCallOutcome, startRoutingServer, type RoutingServer } from '../support/routing-server';
import { isolatedEnv, startOffline, startWorker, TEST_SECRET, waitForState } from '../support/stack';

/**
 * One correlation id from the producer's request to the routing service: the door's reply, the
 * ledger (status route), every line the worker logs about the event, and the headers of every
 * routing call, through a failed first attempt (503) and the retry that routes it.
 */
describe("an event's correlation id", () => {
  let routing: RoutingServer;
  let offline: RunningProcess;
  let worker: RunningProcess;
  let baseUrl: string;

  beforeAll(async () => {
    // Every call fails until the test has seen a first one: each event gets a retry.
    routing = await startRoutingServer({ failureRate: 1 });
    const env = isolatedEnv('correlation', { ROUTING_URL: routing.url, BACKOFF_BASE_MS: '200', BACKOFF_MAX_MS: '500' });
    ({ process: offline, baseUrl } = await startOffline(env));
    worker = await startWorker(env);
  });
  afterAll(async () => {
    await worker?.stop();
    await offline?.stop();
    await routing?.close();
  });

  it('is the one the producer sent, or the one the door made, from the reply to the routing service', async () => {
    const given = `corr-${randomUUID()}`;
    const withId = await post(sampleEvent(), given);
    const withoutId = await post(sampleEvent());
    expect(withId.correlationId).toBe(given);
    expect(withoutId.correlationId).toMatch(/^[0-9a-f-]{36}$/);

    await waitFor('a failed first call for each event', async () =>
      [withId, withoutId].every(({ eventId }) =>
        routing.calls().some((call) => call.eventId === eventId && call.outcome === RoutingCallOutcome.FAILED),
      )
        ? true
        : undefined,
    );
    routing.set({ failureRate: 0 });

    for (const { eventId, correlationId } of [withId, withoutId]) {
      const view = await waitForState(baseUrl, eventId, 'ROUTED');
      // One or more failed calls (a retry may come round before the service is fixed), then the routing.
      const calls = routing.calls().filter((call) => call.eventId === eventId);
      expect(calls.map((call) => call.outcome)).toEqual([
        ...Array<string>(calls.length - 1).fill(RoutingCallOutcome.FAILED),
        RoutingCallOutcome.ROUTED,
      ]);
      expect(calls.length).toBeGreaterThanOrEqual(2);
      expect(view).toMatchObject({ correlationId, attempts: calls.length });
      for (const call of calls) expect(call.correlationId).toBe(correlationId);

      // The ledger is written before the line saying so: wait for the line.
      const lines = await waitFor('the worker to log the routing', async () => {
        const about = workerLines(worker).filter((line) => JSON.stringify(line).includes(eventId));
        return about.some((line) => line.message === 'event routed') ? about : undefined;
      });
      expect(lines.filter((line) => line.message === 'attempt failed; retrying')).toHaveLength(calls.length - 1);
      for (const line of lines) expect(line).toMatchObject({ correlationId, eventId });
    }
  }, 120_000);

  /** POSTs a signed event, with `x-correlation-id` when given; returns the ids of the 202. */
  async function post(event: ShipmentEventInput, correlationId?: string) {
    const body = JSON.stringify(event);
    const headers = { ...signedHeaders(TEST_SECRET, body), ...(correlationId ? { 'x-correlation-id': correlationId } : {}) };
    const response = await fetch(`${baseUrl}/v1/events`, { method: 'POST', headers, body });
    expect(response.status).toBe(202);
    const reply = (await response.json()) as { eventId: string; correlationId: string };
    expect(response.headers.get('x-correlation-id')).toBe(reply.correlationId);
    return reply;
  }
});

/** The worker's structured log lines (JSON on stdout), skipping anything else it printed. */
function workerLines(worker: RunningProcess): Array<Record<string, unknown>> {
  return worker
    .output()
    .split('\n')
    .flatMap((line) => {
      if (!line.startsWith('{')) return [];
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}
