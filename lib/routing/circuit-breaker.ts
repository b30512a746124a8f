import { CircuitOpenError, TransientRoutingError } from '../errors';
import type { RoutingDecision, RoutingRequest, RoutingService } from './types';

export const BreakerState = { CLOSED: 'CLOSED', OPEN: 'OPEN', HALF_OPEN: 'HALF_OPEN' } as const;
export type BreakerState = (typeof BreakerState)[keyof typeof BreakerState];

export interface CircuitBreakerOptions {
  /** Consecutive transient failures that open the circuit. */
  failureThreshold: number;
  /** How long the circuit stays open before one probe call is let through. */
  cooldownMs: number;
  now?: () => number;
}

/**
 * A circuit breaker in front of the routing service. After `failureThreshold` consecutive
 * transient failures it opens: calls fail at once with {@link CircuitOpenError} (which the worker
 * turns into a delay, not a failed attempt) until `cooldownMs` has passed; then one probe goes
 * through, closing the circuit on success or opening it again on failure.
 */
export class CircuitBreaker {
  readonly #options: Required<CircuitBreakerOptions>;
  #state: BreakerState = BreakerState.CLOSED;
  #failures = 0;
  #openUntil = 0;
  #probing = false;

  constructor(options: CircuitBreakerOptions) {
    this.#options = { now: Date.now, ...options };
  }

  /**
   * Open until the cool-down is over, then half-open: the worker looks at the state before it
   * calls, so an open circuit must show when it will take a probe, or no call would ever close it.
   */
  get state(): BreakerState {
    if (this.#state === BreakerState.OPEN && this.#options.now() >= this.#openUntil) return BreakerState.HALF_OPEN;
    return this.#state;
  }

  /** When a call may next be tried: now when closed, else the end of the cool-down. */
  retryAt(): number {
    return this.#state === BreakerState.CLOSED ? this.#options.now() : Math.max(this.#openUntil, this.#options.now() + 100);
  }

  async run<T>(call: () => Promise<T>): Promise<T> {
    const now = this.#options.now();
    if (this.#state === BreakerState.OPEN) {
      if (now < this.#openUntil) throw new CircuitOpenError(this.#openUntil);
      this.#state = BreakerState.HALF_OPEN;
    }
    if (this.#state === BreakerState.HALF_OPEN) {
      if (this.#probing) throw new CircuitOpenError(this.retryAt());
      this.#probing = true;
    }
    try {
      const result = await call();
      this.#failures = 0;
      this.#state = BreakerState.CLOSED;
      return result;
    } catch (error) {
      if (error instanceof TransientRoutingError) this.#recordFailure();
      throw error;
    } finally {
      this.#probing = false;
    }
  }

  #recordFailure(): void {
    this.#failures += 1;
    if (this.#state === BreakerState.HALF_OPEN || this.#failures >= this.#options.failureThreshold) {
      this.#state = BreakerState.OPEN;
      this.#openUntil = this.#options.now() + this.#options.cooldownMs;
    }
  }
}

/** The routing service behind a {@link CircuitBreaker}. */
export class GuardedRoutingService implements RoutingService {
  constructor(
    private readonly inner: RoutingService,
    readonly breaker: CircuitBreaker,
  ) {}

  route(request: RoutingRequest): Promise<RoutingDecision> {
    return this.breaker.run(() => this.inner.route(request));
  }
}
