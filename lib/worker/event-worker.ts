import type { Logger } from '@aws-lambda-powertools/logger';
import { Worker } from 'bullmq';
import type { Db } from 'mongodb';
import type { WorkerConfig } from '../config';
import type { DeadLetterStore } from '../dead-letters/dead-letter-store';
import type { QueuedEvent } from '../events/schema';
import { MongoLedger } from '../ledger/ledger';
import { PauseStore, pausedScope, type Pause } from '../ops/pauses';
import { raceTimeout } from '../race-timeout';
import { EVENTS_QUEUE } from '../queue/names';
import type { RedisClient } from '../queue/redis';
import { CircuitBreaker, GuardedRoutingService } from '../routing/circuit-breaker';
import type { RoutingService } from '../routing/types';
import { MongoShipmentStore } from '../shipments/shipment-store';
import { retryDelayStrategy } from './backoff';
import type { ProcessorMetrics } from './metrics';
import { createEventProcessor, type ProcessorDependencies, type ProcessOutcome } from './process-event';

export interface EventWorkerOptions {
  config: WorkerConfig;
  redis: RedisClient;
  db: Db;
  prefix: string;
  logger: Logger;
  workerId: string;
  metrics?: ProcessorMetrics;
  /** Where exhausted events go; owned (and closed) by the composition root. */
  deadLetters: DeadLetterStore;
  /** The routing service, chosen by the composition root; calls to it go through the breaker. */
  routing: RoutingService;
  /** The routing breaker; one is made from `config.breaker` when not given. */
  breaker?: CircuitBreaker;
  /** The operators' pauses, read before the first job (see `startPauseWatch`); none when absent. */
  pauses?: ProcessorDependencies['pauses'];
}

export interface EventWorker {
  worker: Worker<QueuedEvent, ProcessOutcome>;
  breaker: CircuitBreaker;
  deadLetters: DeadLetterStore;
  /** Stops taking jobs and waits for the ones in flight. Safe to call twice. */
  close(): Promise<void>;
}

/** The worker's Redis client waits out an outage; the pause check does not hold a job that long. */
const PAUSE_READ_TIMEOUT_MS = 1000;

/**
 * The operators' pauses as a worker sees them: read from Redis for every job it takes up (one
 * HGETALL of a small hash), so a pause applies to the next job after it is written, and a worker
 * that starts during a pause holds its source's events from the first. While Redis does not
 * answer, the last pauses read stay in force.
 */
export function pauseCheck(redis: RedisClient, prefix: string): NonNullable<ProcessorDependencies['pauses']> {
  const store = new PauseStore(redis, prefix);
  let last: Record<string, Pause> = {};
  return {
    async pausedScope(source) {
      last = await raceTimeout(store.read(), PAUSE_READ_TIMEOUT_MS).catch(() => last);
      return pausedScope(last, source);
    },
    hold: (scope, jobId) => store.hold(scope, jobId),
  };
}

/**
 * Starts the BullMQ worker over the events queue with the configured concurrency, rate limit
 * and retry policy. The job lock and the ledger lease have the same length, so a crashed
 * worker's jobs come back (stalled-job check) about when its ledger claims expire.
 */
export function startEventWorker(options: EventWorkerOptions): EventWorker {
  const { config, redis, db, prefix, logger, deadLetters } = options;
  const breaker = options.breaker ?? new CircuitBreaker(config.breaker);
  const processor = createEventProcessor({
    ledger: new MongoLedger(db),
    // A shipment version left unwritten for a whole lease was taken by a worker that died.
    shipments: new MongoShipmentStore(db, { abandonedAfterMs: config.leaseMs }),
    routing: new GuardedRoutingService(options.routing, breaker),
    breaker,
    deadLetters,
    logger,
    workerId: options.workerId,
    leaseMs: config.leaseMs,
    backoff: config.backoff,
    ...(options.metrics ? { metrics: options.metrics } : {}),
    ...(options.pauses ? { pauses: options.pauses } : {}),
  });
  const worker = new Worker<QueuedEvent, ProcessOutcome>(EVENTS_QUEUE, processor, {
    connection: redis,
    prefix,
    concurrency: config.concurrency,
    lockDuration: config.leaseMs,
    // A crashed worker's jobs are noticed within one lease and handed to a live worker.
    stalledInterval: Math.min(30_000, config.leaseMs),
    maxStalledCount: config.maxStalledCount,
    ...(config.rateLimitPerSecond > 0 ? { limiter: { max: config.rateLimitPerSecond, duration: 1000 } } : {}),
    settings: { backoffStrategy: retryDelayStrategy(config.backoff) },
  });
  worker.on('error', (error) => logger.error('worker error', { error: error.message }));

  let closing: Promise<void> | undefined;
  return {
    worker,
    breaker,
    deadLetters,
    close() {
      closing ??= worker.close();
      return closing;
    },
  };
}
