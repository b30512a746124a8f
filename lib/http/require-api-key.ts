import { createHash, timingSafeEqual } from 'node:crypto';
import type middy from '@middy/core';
import { ApiKeyError } from '../errors';

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
export function presentedKey(headers: Record<string, string | undefined> = {}): string | undefined {
  const bearer = /^Bearer\s+(\S+)$/i.exec(headers.authorization ?? '')?.[1];
  return headers['x-api-key'] ?? bearer;
}

/**
 * True when the request presents one of the keys. A failure to read the keys (a missing secret)
 * is a no: for a route that answers everyone, only the extra the key unlocks is withheld.
 *
 * @example
 * const details = await presentsApiKey(event.headers, operatorKeys(sharedSecrets()));
 */
export async function presentsApiKey(
  headers: Record<string, string | undefined> | undefined,
  keys: () => Promise<readonly string[]>,
): Promise<boolean> {
  const presented = presentedKey(headers);
  if (!presented) return false;
  try {
    return isValidApiKey(presented, await keys());
  } catch {
    return false;
  }
}

export interface RequireApiKeyOptions {
  /**
   * The keys this route accepts now. Called on every request, so pass the cached secrets
   * provider's keys (no I/O until their max age), not a copy: a rotated key then applies without
   * a restart. A rejection (a missing secret) becomes the route's reply, a 503.
   */
  keys: () => Promise<readonly string[]>;
}

/**
 * Middy middleware for the keyed routes (operator routes with the operator keys, the status route
 * with operator and status keys): 401 unless the request presents one of the keys, in
 * `x-api-key` or `authorization: Bearer <key>`.
 *
 * @example
 * handler.use(requireApiKey({ keys: operatorKeys(sharedSecrets()) }));
 */
export function requireApiKey(options: RequireApiKeyOptions): middy.MiddlewareObj<{ headers?: Record<string, string | undefined> }> {
  return {
    before: async (request) => {
      const keys = await options.keys();
      if (!isValidApiKey(presentedKey(request.event.headers), keys)) throw new ApiKeyError();
    },
  };
}
