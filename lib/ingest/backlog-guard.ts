import { BacklogFullError } from '../errors';

export interface BacklogGuardOptions {
  /** Refuse new events at or above this many waiting and delayed ones. */
  maxBacklog: number;
  /** Reuse a backlog reading this long; Redis is asked at most once per interval. */
  cacheMs: number;
  retryAfterSeconds: number;
  /** Reads the backlog size. */
  readBacklog: () => Promise<number>;
  now?: () => number;
}

/**
 * Backpressure at the door: when the queue's backlog passes its bound, producers get 429 with
 * Retry-After instead of filling Redis until it refuses writes. The size is read at most once
 * per `cacheMs` (concurrent callers share one read), never per request. A failed read lets the
 * request through: whether Redis can take the job is then decided by the enqueue itself.
 */
export class BacklogGuard {
  readonly #options: Required<BacklogGuardOptions>;
  #reading: Promise<number> | undefined;
  #value = 0;
  #readAt = Number.NEGATIVE_INFINITY;

  constructor(options: BacklogGuardOptions) {
    this.#options = { now: Date.now, ...options };
  }

  async check(): Promise<void> {
    const backlog = await this.#current();
    if (backlog >= this.#options.maxBacklog) throw new BacklogFullError(this.#options.retryAfterSeconds);
  }

  async #current(): Promise<number> {
    if (this.#options.now() - this.#readAt < this.#options.cacheMs) return this.#value;
    this.#reading ??= this.#options
      .readBacklog()
      .then((value) => {
        this.#value = value;
        this.#readAt = this.#options.now();
        return value;
      })
      .catch(() => this.#value)
      .finally(() => {
        this.#reading = undefined;
      });
    return this.#reading;
  }
}
