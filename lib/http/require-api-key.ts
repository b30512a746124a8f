import { createHash, timingSafeEqual } from 'node:crypto';
import type middy from '@middy/core';
import { OperatorAuthError } from '../errors';

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * True when `presented` is one of `keys`. Keys are compared as SHA-256 digests with
 * timingSafeEqual, so neither a key's content nor its length shows in the timing; every key
 * is tried.
 */
export function isValidApiKey(presented: string | undefined, keys: readonly string[]): boolean {
  if (!presented) return false;
  const candidate = digest(presented);
  let valid = false;
  for (const key of keys) if (timingSafeEqual(candidate, digest(key))) valid = true;
  return valid;
}

/** The key from `x-api-key`, or from `authorization: Bearer <key>`. */
function presentedKey(headers: Record<string, string | undefined> = {}): string | undefined {
  const bearer = /^Bearer\s+(\S+)$/i.exec(headers.authorization ?? '')?.[1];
  return headers['x-api-key'] ?? bearer;
}

/** Middy middleware for the operator routes: 401 unless a valid operator API key is presented. */
export function requireApiKey(options: { keys: readonly string[] }): middy.MiddlewareObj<{ headers?: Record<string, string | undefined> }> {
  return {
    before: async (request) => {
      if (!isValidApiKey(presentedKey(request.event.headers), options.keys)) throw new OperatorAuthError();
    },
  };
}
