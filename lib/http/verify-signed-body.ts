import type middy from '@middy/core';
import { PayloadTooLargeError } from '../errors';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifySignature } from '../ingest/signature';
import { rawBodyOf } from './reply';

export interface VerifySignedBodyOptions {
  secrets: readonly string[];
  toleranceSeconds: number;
  maxBodyBytes: number;
}

type SignedEvent = {
  headers?: Record<string, string | undefined>;
  body?: string | null;
  isBase64Encoded?: boolean;
};

/**
 * Middy middleware (the one no official middleware provides): refuses a body over the size
 * limit, then checks the HMAC signature over the exact bytes received, before anything parses
 * them. Must run before `@middy/http-json-body-parser`.
 */
export function verifySignedBody(options: VerifySignedBodyOptions): middy.MiddlewareObj<SignedEvent> {
  return {
    before: async (request) => {
      const { headers = {} } = request.event;
      const declared = Number(headers['content-length']);
      if (Number.isFinite(declared) && declared > options.maxBodyBytes) {
        throw new PayloadTooLargeError(options.maxBodyBytes);
      }
      const raw = rawBodyOf(request.event);
      if (raw.length > options.maxBodyBytes) throw new PayloadTooLargeError(options.maxBodyBytes);
      verifySignature(raw, headers[SIGNATURE_HEADER], headers[TIMESTAMP_HEADER], options);
    },
  };
}
