import { RoutingRejectedError, TransientRoutingError } from '../errors';
import type { ShipmentState } from '../shipments/shipment-store';
import { routingDecisionSchema } from './routing-decision';
import type { RoutingDecision, RoutingRequest, RoutingService } from './types';

export interface HttpRoutingOptions {
  /** Where routing requests are POSTed (ROUTING_URL). */
  url: string;
  /** Sent on every call besides the gateway's own: the service's credential (ROUTING_AUTH_HEADER), by lower-case name. */
  headers?: Readonly<Record<string, string>>;
  /** The fetch to call; Node's global one (undici, keep-alive connections) unless a test gives another. */
  fetch?: typeof fetch;
}

/** The body of a routing request: the event, and the shipment as it stands before it. */
export interface RoutingRequestBody {
  eventId: string;
  event: RoutingRequest['event'];
  shipment: Omit<ShipmentState, 'history'> | null;
}

/** Longest part of a refusal's body quoted in the error (and so in the dead letter). */
const MAX_DETAIL_CHARS = 200;

/**
 * The routing service over HTTP: POSTs `{ eventId, event, shipment }` as JSON to `url` with the
 * event's correlation id (`x-correlation-id`), its idempotency key (`idempotency-key`, so a
 * retried call may be recognised by the service) and the configured credential header, if any. A 2xx answer must be a routing decision.
 * What the worker then does is decided from the error's class alone:
 *
 * - 5xx, 429, no connection, an aborted call, a 2xx that is not a decision: {@link TransientRoutingError}
 *   (retried with backoff, counted by the circuit breaker);
 * - any other 4xx: {@link RoutingRejectedError} (dead-lettered at once, ROUTING_REJECTED).
 *
 * It has no timeout of its own: the port's deadline ({@link withDeadline}) aborts `signal`.
 */
export class HttpRoutingService implements RoutingService {
  readonly #url: string;
  readonly #fetch: typeof fetch;
  readonly #headers: Readonly<Record<string, string>>;

  constructor(options: HttpRoutingOptions) {
    this.#url = options.url;
    this.#fetch = options.fetch ?? fetch;
    this.#headers = { ...options.headers, 'content-type': 'application/json' };
  }

  async route(request: RoutingRequest): Promise<RoutingDecision> {
    const { event, correlationId, signal } = request;
    let response: Response;
    try {
      response = await this.#fetch(this.#url, {
        method: 'POST',
        headers: { ...this.#headers, 'x-correlation-id': correlationId, 'idempotency-key': event.idempotencyKey },
        body: JSON.stringify(requestBody(request)),
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      throw new TransientRoutingError(`routing service unreachable: ${describe(error)}`, { cause: error });
    }
    // A 4xx but 429 is a refusal of this event; any other answer that is not a 2xx may pass.
    if (response.status >= 400 && response.status < 500 && response.status !== 429) {
      throw new RoutingRejectedError(response.status, await detail(response));
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw new TransientRoutingError(`routing service answered ${response.status}`);
    }
    return readDecision(response);
  }
}

/** The request's body; the shipment's history is the gateway's own record and stays home. */
export function requestBody({ event, shipment }: RoutingRequest): RoutingRequestBody {
  if (!shipment) return { eventId: event.eventId, event, shipment: null };
  const { history: _history, ...state } = shipment;
  return { eventId: event.eventId, event, shipment: state };
}

async function readDecision(response: Response): Promise<RoutingDecision> {
  let body: unknown;
  try {
    body = await response.json();
  } catch (error) {
    throw new TransientRoutingError(`routing service answered ${response.status} without a JSON body: ${describe(error)}`, {
      cause: error,
    });
  }
  const parsed = routingDecisionSchema.safeParse(body);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => issue.path.join('.') || '(body)').join(', ');
    throw new TransientRoutingError(`routing service answered ${response.status} without a valid decision (${fields})`);
  }
  return parsed.data;
}

/** The start of a refusal's body, which usually says why. */
async function detail(response: Response): Promise<string> {
  try {
    return (await response.text()).slice(0, MAX_DETAIL_CHARS).trim();
  } catch {
    return '';
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // undici reports a refused connection as "fetch failed" with the socket's error as the cause.
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.name}: ${error.message}${cause}`;
}
