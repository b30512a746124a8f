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
    const deadline = AbortSignal.timeout(this.timeoutMs);
    // A caller's own signal (a shutdown) still cancels the call before the deadline.
    const signal = request.signal ? AbortSignal.any([request.signal, deadline]) : deadline;
    return new Promise<RoutingDecision>((resolve, reject) => {
      // Listening before the adapter does, so the deadline's error wins over the adapter's abort error.
      const onAbort = () =>
        reject(deadline.aborted ? new TransientRoutingError(`routing timed out after ${this.timeoutMs} ms`) : (signal.reason as Error));
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      this.inner
        .route({ ...request, signal })
        .then(resolve, reject)
        .finally(() => signal.removeEventListener('abort', onAbort));
    });
  }
}
