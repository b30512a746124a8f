import type { Logger } from '@aws-lambda-powertools/logger';
import { Worker } from 'bullmq';
import type { Db } from 'mongodb';
import type { WorkerConfig } from '../config';
import type { DeadLetterStore } from '../dead-letters/dead-letter-store';
import type { QueuedEvent } from '../events/schema';
import { MongoLedger } from '../ledger/ledger';
import { EVENTS_QUEUE } from '../queue/names';
import type { RedisClient } from '../queue/redis';
import { CircuitBreaker, GuardedRoutingService } from '../routing/circuit-breaker';
import type { RoutingService } from '../routing/types';
import { MongoShipmentStore } from '../shipments/shipment-store';
import { retryDelayStrategy } from './backoff';
import type { ProcessorMetrics } from './metrics';
import { createEventProcessor, type ProcessOutcome } from './process-event';

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
}

export interface EventWorker {
  worker: Worker<QueuedEvent, ProcessOutcome>;
  breaker: CircuitBreaker;
  deadLetters: DeadLetterStore;
  /** Stops taking jobs and waits for the ones in flight. Safe to call twice. */
  close(): Promise<void>;
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
