/**
 * Errors say what happened. Which HTTP status a reply gets is decided in one place
 * (`lib/http/error-replies.ts`), and whether a failed job is retried or dead-lettered in
 * another (`lib/worker/classify-failure.ts`), both from the class alone.
 */
export class GatewayError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GatewayError';
  }
}

/** The environment is missing or has a bad value; the process cannot start. */
export class ConfigError extends GatewayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

/** Missing, malformed, wrong or stale signature. Deliberately says no more than that. */
export class SignatureError extends GatewayError {
  constructor(options?: { cause?: unknown }) {
    super('missing, invalid or expired signature', options);
    this.name = 'SignatureError';
  }
}

export interface FieldIssue {
  path: string;
  message: string;
}

/** The body parsed as JSON but is not a valid event. */
export class ValidationError extends GatewayError {
  readonly issues: FieldIssue[];
  /** `message` says what was checked: the event by default, a query or a request body elsewhere. */
  constructor(issues: FieldIssue[], options?: { cause?: unknown; message?: string }) {
    super(options?.message ?? 'the event does not match the schema', options);
    this.name = 'ValidationError';
    this.issues = issues;
  }
}

/** The body is not JSON at all. */
export class MalformedBodyError extends GatewayError {
  constructor(message = 'the body is not valid JSON', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MalformedBodyError';
  }
}

export class UnsupportedMediaTypeError extends GatewayError {
  constructor(options?: { cause?: unknown }) {
    super('content-type must be application/json', options);
    this.name = 'UnsupportedMediaTypeError';
  }
}

export class PayloadTooLargeError extends GatewayError {
  readonly limitBytes: number;
  constructor(limitBytes: number, options?: { cause?: unknown }) {
    super(`the body is larger than ${limitBytes} bytes`, options);
    this.name = 'PayloadTooLargeError';
    this.limitBytes = limitBytes;
  }
}

/** Redis did not take the job in time: nothing was acknowledged, the producer should retry. */
export class QueueUnavailableError extends GatewayError {
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds = 5, options?: { cause?: unknown }) {
    super('the event queue is unavailable, retry later', options);
    this.name = 'QueueUnavailableError';
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export class EventNotFoundError extends GatewayError {
  constructor(eventId: string, options?: { cause?: unknown }) {
    super(`no event with id ${JSON.stringify(eventId)}`, options);
    this.name = 'EventNotFoundError';
  }
}

/** No re-route request has this id. */
export class RerouteNotFoundError extends GatewayError {
  constructor(requestId: string, options?: { cause?: unknown }) {
    super(`no re-route request with id ${JSON.stringify(requestId)}`, options);
    this.name = 'RerouteNotFoundError';
  }
}

/** A re-route's request id was used before with another body: an idempotency key names one request. */
export class RerouteConflictError extends GatewayError {
  constructor(requestId: string, options?: { cause?: unknown }) {
    super(
      `requestId ${JSON.stringify(requestId)} was already used with a different body; send that body again, or use a new requestId`,
      options,
    );
    this.name = 'RerouteConflictError';
  }
}

/** The routing service failed in a way that may pass (timeout, 5xx, 429, unreachable, simulated failure). */
export class TransientRoutingError extends GatewayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransientRoutingError';
  }
}

/**
 * The routing service refused the request (a 4xx other than 429): asking again with the same
 * event gets the same answer, so the event is dead-lettered at once, for an operator to look at.
 */
export class RoutingRejectedError extends GatewayError {
  readonly status: number;
  constructor(status: number, detail: string, options?: { cause?: unknown }) {
    super(`routing service refused the event with ${status}${detail ? `: ${detail}` : ''}`, options);
    this.name = 'RoutingRejectedError';
    this.status = status;
  }
}

/** The idempotency key was seen before with a different payload: never processed twice. */
export class PayloadConflictError extends GatewayError {
  constructor(idempotencyKey: string, options?: { cause?: unknown }) {
    super(`idempotency key ${JSON.stringify(idempotencyKey)} was already used with a different payload`, options);
    this.name = 'PayloadConflictError';
  }
}

/** Another live worker holds the event's lease; try again after it expires or completes. */
export class LeaseHeldError extends GatewayError {
  constructor(idempotencyKey: string, options?: { cause?: unknown }) {
    super(`event ${JSON.stringify(idempotencyKey)} is being processed by another worker`, options);
    this.name = 'LeaseHeldError';
  }
}

/** Another worker is changing the shipment (or died doing so): come back later, without using an attempt. */
export class ShipmentContentionError extends GatewayError {
  constructor(shipmentId: string, options?: { cause?: unknown }) {
    super(`shipment ${JSON.stringify(shipmentId)} kept changing while this event was applied`, options);
    this.name = 'ShipmentContentionError';
  }
}

/** The job's data is not an event this worker understands (schema drift): retrying won't help. */
export class JobSchemaError extends GatewayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'JobSchemaError';
  }
}

/** The queue's backlog is over its bound: the producer should slow down and retry later. */
export class BacklogFullError extends GatewayError {
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number, options?: { cause?: unknown }) {
    super('the gateway is over its backlog bound, retry later', options);
    this.name = 'BacklogFullError';
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The routing service's circuit breaker is open: do not call it before `retryAt`. */
export class CircuitOpenError extends GatewayError {
  readonly retryAt: number;
  constructor(retryAt: number, options?: { cause?: unknown }) {
    super('routing service circuit is open', options);
    this.name = 'CircuitOpenError';
    this.retryAt = retryAt;
  }
}

/** The event's source (or every source) is paused by an operator: it waits, using no attempt. */
export class PausedError extends GatewayError {
  readonly scope: string;
  constructor(scope: string, options?: { cause?: unknown }) {
    super(scope === '*' ? 'every source is paused' : `source ${scope} is paused`, options);
    this.name = 'PausedError';
    this.scope = scope;
  }
}

/** A keyed route (operator, status) was called without a key it accepts. Says nothing more. */
export class ApiKeyError extends GatewayError {
  constructor(options?: { cause?: unknown }) {
    super('a valid API key is required', options);
    this.name = 'ApiKeyError';
  }
}

/**
 * The secrets could not be read (the parameter store did not answer, or a value does not
 * parse): the request cannot be served safely, so it is refused with a 503, never accepted.
 */
export class SecretsUnavailableError extends GatewayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SecretsUnavailableError';
  }
}

/** A required secret does not exist where the stage keeps its secrets; names it in full. */
export class MissingSecretError extends SecretsUnavailableError {
  /** Full names: SSM parameter names in the cloud, variable names with env secrets. */
  readonly secretNames: readonly string[];
  constructor(secretNames: readonly string[], options?: { cause?: unknown }) {
    super(`missing ${secretNames.join(', ')}`, options);
    this.name = 'MissingSecretError';
    this.secretNames = secretNames;
  }
}
