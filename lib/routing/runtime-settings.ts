import type { RedisClient } from '../queue/redis';

/** The Redis hash running workers read their run-time settings from. */
export function settingsKey(prefix: string): string {
  return `${prefix}:settings`;
}

/** The one setting that can change while the worker runs: the simulated routing failure rate. */
export const ROUTING_FAILURE_RATE_FIELD = 'routingFailureRate';

/**
 * Settings an operator (or the load test) changes on running workers without a restart: the
 * worker reads the hash every `refreshMs`; a missing or invalid field means "use the
 * environment's value". `HSET <prefix>:settings routingFailureRate 0.2` / `HDEL` to clear.
 */
export class RuntimeSettings {
  #failureRate: number | undefined;
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    refreshMs = 1000,
  ) {
    this.#timer = setInterval(() => void this.refresh(), refreshMs);
    this.#timer.unref();
  }

  async refresh(): Promise<void> {
    try {
      const value = await this.redis.hget(settingsKey(this.prefix), ROUTING_FAILURE_RATE_FIELD);
      const rate = value === null ? Number.NaN : Number(value);
      this.#failureRate = rate >= 0 && rate <= 1 ? rate : undefined;
    } catch {
      // Keep the last value while Redis is away.
    }
  }

  routingFailureRate(): number | undefined {
    return this.#failureRate;
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
