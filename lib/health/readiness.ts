import type { Db } from 'mongodb';
import { MissingSecretError } from '../errors';
import type { RedisClient } from '../queue/redis';
import { raceTimeout } from '../race-timeout';

export type DependencyState = 'up' | 'down';

/** `up`, `down` (the parameter store could not be read), or `missing <full names>`. */
export type SecretsState = DependencyState | `missing ${string}`;

export interface Readiness {
  ready: boolean;
  checks: { secrets: SecretsState; redis: DependencyState; mongo: DependencyState };
}

/** A first read of SSM (client start, TLS, one call) takes longer than a ping. */
const SECRETS_TIMEOUT_MS = 3000;
/**
 * A cold container's first check also connects (and, for Mongo, loads the driver and makes its
 * indexes): that gets as long as the client's own server selection, and only the ping gets the
 * short timeout. Otherwise a busy machine reported a reachable Mongo as down on a first /ready.
 */
const CONNECT_TIMEOUT_MS = 3000;

/** Gets the client (connecting it if this is the first use), then pings it within `timeoutMs`. */
async function pingState<C>(client: () => Promise<C>, ping: (client: C) => Promise<unknown>, timeoutMs: number): Promise<DependencyState> {
  try {
    const connected = await raceTimeout(client(), CONNECT_TIMEOUT_MS);
    await raceTimeout(ping(connected), timeoutMs);
    return 'up';
  } catch {
    return 'down';
  }
}

async function secretsState(read: () => Promise<unknown>): Promise<SecretsState> {
  try {
    await read();
    return 'up';
  } catch (error) {
    if (error instanceof MissingSecretError) return `missing ${error.secretNames.join(', ')}`;
    return 'down';
  }
}

/**
 * Reads every secret, then pings Redis and Mongo, each with a short timeout, and says what is
 * wrong: which secrets are missing, which store is down. Secrets come first because the stores'
 * URLs are among them.
 */
export async function checkReadiness(
  deps: { secrets: () => Promise<unknown>; redis: () => Promise<RedisClient>; db: () => Promise<Db> },
  timeoutMs = 1000,
): Promise<Readiness> {
  const secrets = await secretsState(() => raceTimeout(deps.secrets(), SECRETS_TIMEOUT_MS));
  const [redis, mongo] = await Promise.all([
    pingState(deps.redis, (redis) => redis.ping(), timeoutMs),
    pingState(deps.db, (db) => db.command({ ping: 1 }), timeoutMs),
  ]);
  return { ready: secrets === 'up' && redis === 'up' && mongo === 'up', checks: { secrets, redis, mongo } };
}
