import type { Redis } from 'ioredis';
import type { Db } from 'mongodb';

export type DependencyState = 'up' | 'down';

export interface Readiness {
  ready: boolean;
  checks: { redis: DependencyState; mongo: DependencyState };
}

async function within(check: () => Promise<unknown>, timeoutMs: number): Promise<DependencyState> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
      }),
    ]);
    return 'up';
  } catch {
    return 'down';
  } finally {
    clearTimeout(timer);
  }
}

/** Pings Redis and Mongo, each with a short timeout, and says which one is down. */
export async function checkReadiness(deps: { redis: Redis; db: () => Promise<Db> }, timeoutMs = 1000): Promise<Readiness> {
  const [redis, mongo] = await Promise.all([
    within(() => deps.redis.ping(), timeoutMs),
    within(async () => (await deps.db()).command({ ping: 1 }), timeoutMs),
  ]);
  return { ready: redis === 'up' && mongo === 'up', checks: { redis, mongo } };
}
