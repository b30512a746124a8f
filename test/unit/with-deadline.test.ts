import { describe, expect, it } from 'vitest';
import { TransientRoutingError } from '../../lib/errors';
import { parseShipmentEvent } from '../../lib/events/schema';
import { BreakerState, CircuitBreaker, GuardedRoutingService } from '../../lib/routing/circuit-breaker';
import type { RoutingDecision, RoutingRequest, RoutingService } from '../../lib/routing/types';
import { withDeadline } from '../../lib/routing/with-deadline';
import { decideAttempt, DecisionKind } from '../../lib/worker/decide-attempt';
import { DeadLetterReason } from '../../lib/dead-letters/dead-letter-store';
import { sampleEvent } from '../../scripts/sample-event';

const DEADLINE_MS = 50;
const DECISION: RoutingDecision = { hub: 'AMS-1', lane: 'standard', reason: 'new shipment', decidedAt: new Date(0).toISOString() };

function request(overrides: Partial<RoutingRequest> = {}): RoutingRequest {
  const parsed = parseShipmentEvent(sampleEvent());
  if (!parsed.ok) throw new Error('bad sample');
  return { event: parsed.event, shipment: null, correlationId: 'corr-1', ...overrides };
}

/** A routing service that never answers, keeping the signal each call was given. */
function hangingService() {
  const signals: AbortSignal[] = [];
  const service: RoutingService = {
    route: ({ signal }) => {
      if (signal) signals.push(signal);
      return new Promise<RoutingDecision>(() => undefined);
    },
  };
  return { service, signals };
}

describe("the routing port's deadline", () => {
  it('abandons a call that never answers as a transient failure naming the timeout', async () => {
    const { service } = hangingService();
    await expect(withDeadline(service, DEADLINE_MS).route(request())).rejects.toThrow(
      new TransientRoutingError(`routing timed out after ${DEADLINE_MS} ms`),
    );
  });

  it("aborts the adapter's signal at the deadline, so its I/O is cancelled", async () => {
    const { service, signals } = hangingService();
    await withDeadline(service, DEADLINE_MS)
      .route(request())
      .catch(() => undefined);
    expect(signals).toHaveLength(1);
    expect(signals[0]!.aborted).toBe(true);
  });

  it('passes the request on with its correlation id and returns the decision of a call in time', async () => {
    const seen: RoutingRequest[] = [];
    const service: RoutingService = { route: (given) => (seen.push(given), Promise.resolve(DECISION)) };
    await expect(withDeadline(service, 5_000).route(request())).resolves.toEqual(DECISION);
    expect(seen[0]).toMatchObject({ correlationId: 'corr-1' });
    expect(seen[0]!.signal!.aborted).toBe(false);
  });

  it("leaves the adapter's own errors as they are", async () => {
    const refused = new Error('refused');
    const service: RoutingService = { route: () => Promise.reject(refused) };
    await expect(withDeadline(service, 5_000).route(request())).rejects.toBe(refused);
  });

  it("stops at the caller's own signal before the deadline, with the caller's reason", async () => {
    const { service, signals } = hangingService();
    const caller = new AbortController();
    const call = withDeadline(service, 60_000).route(request({ signal: caller.signal }));
    const shutdown = new Error('shutting down');
    caller.abort(shutdown);
    await expect(call).rejects.toBe(shutdown);
    expect(signals[0]!.aborted).toBe(true);
  });

  it('is counted by the circuit breaker: timeouts open it at its threshold', async () => {
    const { service } = hangingService();
    const breaker = new CircuitBreaker({ failureThreshold: 2, cooldownMs: 60_000 });
    const guarded = new GuardedRoutingService(withDeadline(service, DEADLINE_MS), breaker);
    await guarded.route(request()).catch(() => undefined);
    expect(breaker.state).toBe(BreakerState.CLOSED);
    await guarded.route(request()).catch(() => undefined);
    expect(breaker.state).toBe(BreakerState.OPEN);
  });

  it('makes the attempt a transient failure: retried while attempts remain, then dead-lettered RETRIES_EXHAUSTED', async () => {
    const { service } = hangingService();
    const error: unknown = await withDeadline(service, DEADLINE_MS)
      .route(request())
      .catch((caught: unknown) => caught);
    const policy = { maxAttempts: 2, backoff: { baseMs: 100, maxMs: 1_000, jitter: 0 }, leaseMs: 1_000 };
    const clock = { now: 0, random: () => 0 };
    expect(decideAttempt({ kind: 'failed', error }, 1, policy, clock)).toMatchObject({ kind: DecisionKind.RETRY, delayMs: 100 });
    expect(decideAttempt({ kind: 'failed', error }, 2, policy, clock)).toMatchObject({
      kind: DecisionKind.DEAD_LETTER,
      reason: DeadLetterReason.RETRIES_EXHAUSTED,
      failure: { attempt: 2, error: 'TransientRoutingError', message: `routing timed out after ${DEADLINE_MS} ms` },
    });
  });
});
