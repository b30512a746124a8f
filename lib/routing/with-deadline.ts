import { TransientRoutingError } from '../errors';
import type { RoutingDecision, RoutingRequest, RoutingService } from './types';

/**
 * The routing port's timeout, whatever the adapter: a call that has not answered within
 * `timeoutMs` is abandoned with a {@link TransientRoutingError}, so the worker's slot is freed,
 * the attempt counts as a transient failure (retried with backoff, then dead-lettered) and the
 * circuit breaker counts it. The request's `signal` is aborted at the deadline, so an adapter
 * that passes it to its I/O (fetch) cancels the call instead of leaving it running.
 *
 * @example
 * const routing = withDeadline(new HttpRoutingService({ url }), 5000);
 * await routing.route({ event, shipment, correlationId }); // rejects after 5 s at most
 */
export function withDeadline(inner: RoutingService, timeoutMs: number): RoutingService {
  return new DeadlineRoutingService(inner, timeoutMs);
}

class DeadlineRoutingService implements RoutingService {
  constructor(
    private readonly inner: RoutingService,
    private readonly timeoutMs: number,
  ) {}

  route(request: RoutingRequest): Promise<RoutingDecision> {
    // A timer cleared when the call settles, rather than AbortSignal.timeout, which keeps each
    // call's signal and timer alive for the whole timeout after the call has answered.
    const controller = new AbortController();
    const { signal } = controller;
    const caller = request.signal;
    // A caller's own signal (a shutdown) still cancels the call before the deadline.
    const cancel = () => controller.abort(caller?.reason);
    return new Promise<RoutingDecision>((resolve, reject) => {
      // Listening before the adapter does, so the deadline's error wins over the adapter's abort error.
      signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
      if (caller?.aborted) return cancel();
      const timer = setTimeout(
        () => controller.abort(new TransientRoutingError(`routing timed out after ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
      caller?.addEventListener('abort', cancel, { once: true });
      this.inner
        .route({ ...request, signal })
        .then(resolve, reject)
        .finally(() => {
          clearTimeout(timer);
          caller?.removeEventListener('abort', cancel);
        });
    });
  }
}
