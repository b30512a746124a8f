import { describe, expect, it } from 'vitest';
import { CircuitOpenError, TransientRoutingError } from '../../lib/errors';
import { BreakerState, CircuitBreaker } from '../../lib/routing/circuit-breaker';
import { classifyFailure, FailureAction } from '../../lib/worker/classify-failure';

function breakerWithClock() {
  let clock = 1_000;
  const breaker = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 5_000, now: () => clock });
  const fail = () => breaker.run(async () => Promise.reject(new TransientRoutingError('503')));
  const pass = () => breaker.run(async () => 'ok');
  return { breaker, fail, pass, advance: (ms: number) => (clock += ms) };
}

describe('the routing circuit breaker', () => {
  it('opens after consecutive transient failures and then refuses calls at once', async () => {
    const { breaker, fail, pass } = breakerWithClock();
    for (let i = 0; i < 3; i++) await expect(fail()).rejects.toBeInstanceOf(TransientRoutingError);
    expect(breaker.state).toBe(BreakerState.OPEN);
    await expect(pass()).rejects.toBeInstanceOf(CircuitOpenError);
    await expect(pass()).rejects.toMatchObject({ retryAt: 6_000 });
  });

  it('lets one probe through after the cool-down and closes when it succeeds', async () => {
    const { breaker, fail, pass, advance } = breakerWithClock();
    for (let i = 0; i < 3; i++) await fail().catch(() => undefined);
    advance(5_000);
    await expect(pass()).resolves.toBe('ok');
    expect(breaker.state).toBe(BreakerState.CLOSED);
  });

  it('shows half-open once the cool-down is over, so a worker that looks before calling lets the probe through', async () => {
    const { breaker, fail, advance } = breakerWithClock();
    for (let i = 0; i < 3; i++) await fail().catch(() => undefined);
    advance(4_999);
    expect(breaker.state).toBe(BreakerState.OPEN);
    advance(1);
    expect(breaker.state).toBe(BreakerState.HALF_OPEN);
  });

  it('opens again when the probe fails', async () => {
    const { breaker, fail, advance } = breakerWithClock();
    for (let i = 0; i < 3; i++) await fail().catch(() => undefined);
    advance(5_000);
    await expect(fail()).rejects.toBeInstanceOf(TransientRoutingError);
    expect(breaker.state).toBe(BreakerState.OPEN);
  });

  it('is reset by a success, so scattered failures never open it', async () => {
    const { breaker, fail, pass } = breakerWithClock();
    for (let i = 0; i < 10; i++) {
      await fail().catch(() => undefined);
      await fail().catch(() => undefined);
      await pass();
    }
    expect(breaker.state).toBe(BreakerState.CLOSED);
  });

  it('makes waiting jobs delay instead of using their attempts', () => {
    expect(classifyFailure(new CircuitOpenError(Date.now() + 1000)).action).toBe(FailureAction.DELAY);
  });
});
