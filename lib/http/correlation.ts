import { randomUUID } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import type middy from '@middy/core';
import { CORRELATION_HEADER } from './reply';

const VALID_ID = /^[A-Za-z0-9._:-]{1,128}$/;

type WithHeaders = { headers?: Record<string, string | undefined> };
type WithReplyHeaders = { headers?: Record<string, unknown> } | undefined;

/**
 * Middy middleware: takes `x-correlation-id` from the request (or makes one), puts it on every
 * log line of the invocation and on every reply, errors included. Runs after the header
 * normaliser, so header names are lower-case.
 */
export function correlationIds(options: { logger: Logger }): middy.MiddlewareObj<WithHeaders> {
  const stamp = (request: middy.Request<WithHeaders>) => {
    const id = request.event.headers?.[CORRELATION_HEADER];
    const response = request.response as WithReplyHeaders;
    if (response && id) response.headers = { ...response.headers, [CORRELATION_HEADER]: id };
  };
  return {
    before: (request) => {
      const given = request.event.headers?.[CORRELATION_HEADER];
      const id = given !== undefined && VALID_ID.test(given) ? given : randomUUID();
      request.event.headers = { ...request.event.headers, [CORRELATION_HEADER]: id };
      options.logger.appendKeys({ correlationId: id });
    },
    after: (request) => stamp(request),
    onError: (request) => stamp(request),
  };
}

/** The correlation id the middleware settled on for this request. */
export function correlationIdOf(event: WithHeaders): string {
  return event.headers?.[CORRELATION_HEADER] ?? randomUUID();
}
