import { Queue, type JobsOptions } from 'bullmq';
import type { QueuedEvent } from '../events/schema';
import { BACKOFF_STRATEGY, EVENTS_QUEUE, jobIdFor } from './names';
import type { RedisClient } from './redis';

/** The result of putting an event on the queue. */
export interface EnqueueResult {
  jobId: string;
  /** True when a job for the same idempotency key is already held: nothing new was added. */
  duplicate: boolean;
}

/** Port: where accepted events are durably queued. */
export interface EventQueue {
  /**
   * Adds the event under the job id of its idempotency key, or under `jobId` when given (replays,
   * re-routes); with `delayMs`, a worker takes it up no sooner (a re-route's pace).
   */
  enqueue(item: QueuedEvent, jobId?: string, options?: { delayMs?: number }): Promise<EnqueueResult>;
  /** The job id of an accepted event that no worker has recorded yet, if any. */
  findQueuedJobId(eventId: string): Promise<string | null>;
  /** Events waiting for a worker (including delayed retries): what backpressure watches. */
  backlog(): Promise<number>;
  /** Whether a job for this idempotency key is held: an event with it now would be a duplicate. */
  isHeld(idempotencyKey: string): Promise<boolean>;
}

export interface BullEventQueueOptions {
  connection: RedisClient;
  /** BullMQ key prefix; a `{hash tag}` on Redis Cluster, which keeps the gateway's own keys in the queue's slot too. */
  prefix: string;
  /** Attempts before an event is dead-lettered. */
  attempts: number;
}

/** Completed jobs are kept a day so a duplicate posted within it is recognised and suppressed. */
export const KEEP_COMPLETED = { age: 24 * 3600, count: 100_000 } as const;

/** How long the eventId index outlives the job: as long as failed jobs are kept. */
const INDEX_TTL_SECONDS = 7 * 24 * 3600;

/** The BullMQ adapter of {@link EventQueue}. */
export class BullEventQueue implements EventQueue {
  readonly queue: Queue<QueuedEvent>;
  readonly #jobOptions: JobsOptions;
  readonly #redis: RedisClient;
  readonly #indexPrefix: string;
  readonly #seenPrefix: string;

  constructor(options: BullEventQueueOptions) {
    this.#redis = options.connection;
    this.#indexPrefix = `${options.prefix}:event-index:`;
    this.#seenPrefix = `${options.prefix}:seen:`;
    this.queue = new Queue<QueuedEvent>(EVENTS_QUEUE, { connection: options.connection, prefix: options.prefix });
    this.#jobOptions = {
      attempts: options.attempts,
      // Delays come from the worker's capped, jittered strategy (lib/worker/backoff.ts).
      backoff: { type: BACKOFF_STRATEGY },
      removeOnComplete: KEEP_COMPLETED,
      // A failed job is already dead-lettered (the Mongo record, then its Redis DLQ job) before it leaves the processor.
      removeOnFail: { age: 7 * 24 * 3600 },
    };
  }

  async enqueue(
    item: QueuedEvent,
    jobId = jobIdFor(item.event.idempotencyKey),
    options: { delayMs?: number } = {},
  ): Promise<EnqueueResult> {
    const delay = options.delayMs && options.delayMs > 0 ? { delay: Math.round(options.delayMs) } : {};
    // Three writes go out together, one round trip: the job (BullMQ ignores an id it already
    // holds), the eventId index the status endpoint reads, and a marker whose prior existence
    // says this key was seen while its job is kept: a duplicate.
    const [, , firstSeen] = await Promise.all([
      this.queue.add(item.event.eventType, item, { ...this.#jobOptions, ...delay, jobId }),
      this.#redis.set(this.#indexPrefix + item.event.eventId, jobId, 'EX', INDEX_TTL_SECONDS),
      this.#redis.set(this.#seenPrefix + jobId, '1', 'EX', KEEP_COMPLETED.age, 'NX'),
    ]);
    return { jobId, duplicate: firstSeen === null };
  }

  async isHeld(idempotencyKey: string): Promise<boolean> {
    // The marker enqueue sets: its existence is what makes the next enqueue a duplicate.
    return (await this.#redis.exists(this.#seenPrefix + jobIdFor(idempotencyKey))) === 1;
  }

  async backlog(): Promise<number> {
    const counts = await this.queue.getJobCounts('waiting', 'prioritized', 'delayed');
    return Object.values(counts).reduce((sum, count) => sum + count, 0);
  }

  async findQueuedJobId(eventId: string): Promise<string | null> {
    return this.#redis.get(this.#indexPrefix + eventId);
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
