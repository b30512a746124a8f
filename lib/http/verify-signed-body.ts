import type middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { PayloadTooLargeError, SignatureError } from '../errors';
import { verifyRequestSignature, type VerifiedSignature } from '../ingest/signature';
import { rawBodyOf } from './reply';

/** The secrets a signature may be made with, as the secrets provider returns them. */
export interface SigningSecrets {
  /** Secrets of the shared route, `POST /v1/events`. */
  webhookSecrets: readonly string[];
  /** Secrets of each per-source route, `POST /v1/sources/{source}/events`. */
  sourceSecrets: Readonly<Record<string, readonly string[]>>;
}

export interface VerifySignedBodyOptions {
  /**
   * The signing secrets now. Called on every request, so pass the cached secrets provider (no
   * I/O until its max age), not a copy: a rotated secret then applies without a restart. A
   * rejection (a missing secret) becomes the reply, a 503: never a 202.
   */
  secrets: () => Promise<SigningSecrets>;
  toleranceSeconds: number;
  maxBodyBytes: number;
}

type SignedEvent = {
  headers?: Record<string, string | undefined>;
  pathParameters?: Record<string, string | undefined>;
  body?: string | null;
  isBase64Encoded?: boolean;
};

/** What the middleware learned, for the handler: the scheme, and the route's source if any. */
export interface VerifiedRequest extends VerifiedSignature {
  routeSource?: string;
}

/** Where the handler finds the {@link VerifiedRequest} (the Lambda context object). */
export type SignedRequestContext = Context & { verifiedRequest?: VerifiedRequest };

/**
 * Middy middleware (the one no official middleware provides): refuses a body over the size
 * limit, then checks the signature over the exact bytes received, before anything parses them,
 * with the secrets of the route: a per-source route accepts only its own source's secrets.
 * Must run before `@middy/http-json-body-parser`.
 */
export function verifySignedBody(options: VerifySignedBodyOptions): middy.MiddlewareObj<SignedEvent, unknown, Error, SignedRequestContext> {
  return {
    before: async (request) => {
      const { headers = {}, pathParameters } = request.event;
      const declared = Number(headers['content-length']);
      if (Number.isFinite(declared) && declared > options.maxBodyBytes) {
        throw new PayloadTooLargeError(options.maxBodyBytes);
      }
      const raw = rawBodyOf(request.event);
      if (raw.length > options.maxBodyBytes) throw new PayloadTooLargeError(options.maxBodyBytes);
      const routeSource = pathParameters?.source;
      const { webhookSecrets, sourceSecrets } = await options.secrets();
      const secrets =
        routeSource === undefined ? webhookSecrets : Object.hasOwn(sourceSecrets, routeSource) ? sourceSecrets[routeSource]! : [];
      // An unknown source gets the same 401 as a bad signature: the route does not reveal which sources exist.
      if (secrets.length === 0) throw new SignatureError();
      const verified = verifyRequestSignature(raw, headers, { toleranceSeconds: options.toleranceSeconds, secrets });
      request.context.verifiedRequest = { ...verified, ...(routeSource === undefined ? {} : { routeSource }) };
    },
  };
}

/**
 * JSON.parse reviver for untrusted bodies: drops `__proto__` keys and `constructor.prototype`
 * objects, so no later merge or copy of the parsed value can reach an object prototype.
 */
export function withoutPrototypeKeys(key: string, value: unknown): unknown {
  if (key === '__proto__') return undefined;
  if (key === 'constructor' && value !== null && typeof value === 'object' && Object.hasOwn(value, 'prototype')) return undefined;
  return value;
}
