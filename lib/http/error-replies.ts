import type { Logger } from '@aws-lambda-powertools/logger';
import type middy from '@middy/core';
import {
  ApiKeyError,
  BacklogFullError,
  EventNotFoundError,
  MalformedBodyError,
  MissingSecretError,
  PayloadTooLargeError,
  QueueUnavailableError,
  RerouteConflictError,
  RerouteNotFoundError,
  SecretsUnavailableError,
  SignatureError,
  UnsupportedMediaTypeError,
  ValidationError,
} from '../errors';
import { jsonReply, type HttpReply } from './reply';

interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

function problem(statusCode: number, code: string, message: string, extra: Partial<ErrorBody['error']> = {}, headers = {}): HttpReply {
  return jsonReply(statusCode, { error: { code, message, ...extra } }, headers);
}

/**
 * The one place that turns an error into an HTTP reply, from its class. Unknown errors become a
 * 500 that says nothing about the internals (and are logged in full).
 */
export function replyForError(error: unknown): HttpReply {
  if (error instanceof ValidationError) {
    return problem(400, 'VALIDATION_FAILED', error.message, { details: error.issues });
  }
  if (error instanceof MalformedBodyError) return problem(400, 'MALFORMED_BODY', error.message);
  if (error instanceof SignatureError || error instanceof ApiKeyError) return problem(401, 'UNAUTHORIZED', error.message);
  if (error instanceof EventNotFoundError || error instanceof RerouteNotFoundError) return problem(404, 'NOT_FOUND', error.message);
  if (error instanceof RerouteConflictError) return problem(409, 'CONFLICT', error.message);
  if (error instanceof PayloadTooLargeError) return problem(413, 'PAYLOAD_TOO_LARGE', error.message);
  if (error instanceof UnsupportedMediaTypeError) return problem(415, 'UNSUPPORTED_MEDIA_TYPE', error.message);
  if (error instanceof BacklogFullError) {
    return problem(429, 'BACKLOG_FULL', error.message, {}, { 'retry-after': String(error.retryAfterSeconds) });
  }
  if (error instanceof QueueUnavailableError) {
    return problem(503, 'QUEUE_UNAVAILABLE', error.message, {}, { 'retry-after': String(error.retryAfterSeconds) });
  }
  // The log names the parameter; the caller learns only that the gateway is not set up to serve it.
  if (error instanceof MissingSecretError) return problem(503, 'SECRET_MISSING', 'the gateway is missing a secret this route needs');
  if (error instanceof SecretsUnavailableError) {
    return problem(503, 'SECRETS_UNAVAILABLE', 'the gateway cannot read its secrets, retry later', {}, { 'retry-after': '5' });
  }
  // Errors from official Middy middlewares (createError) carry their own status.
  const status = (error as { statusCode?: unknown })?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const message = error instanceof Error ? error.message : 'bad request';
    const code = status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : 'BAD_REQUEST';
    return problem(status, code, message);
  }
  return problem(500, 'INTERNAL', 'internal error');
}

/** Middy `onError`: replies with {@link replyForError}; logs server-side failures. */
export function errorReplies(options: { logger: Logger }): middy.MiddlewareObj {
  return {
    onError: (request) => {
      const reply = replyForError(request.error);
      if (reply.statusCode >= 500) {
        options.logger.error('request failed', { error: request.error as Error, status: reply.statusCode });
      } else {
        options.logger.info('request refused', { status: reply.statusCode, reason: (request.error as Error)?.name });
      }
      request.response = reply;
    },
  };
}
