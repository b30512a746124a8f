import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '@aws-lambda-powertools/logger';
import { Queue } from 'bullmq';
import { connectionConfig, workerConfig, type WorkerConfig } from '../config';
import type { DeadLetterStore } from '../dead-letters/dead-letter-store';
import { closeShared, sharedDb, sharedDeadLetters, sharedRedis, sharedRoutingService, useConnectionConfig } from '../infrastructure';
import { createLogger } from '../logger';
import { EVENTS_QUEUE } from '../queue/names';
import type { RedisClient } from '../queue/redis';
import { BreakerState, CircuitBreaker } from '../routing/circuit-breaker';
import { readBacklog, startBacklogMetrics } from './backlog-metrics';
import { pauseCheck, startEventWorker, type EventWorker } from './event-worker';
import { assessWorkerHealth, WorkerPhase } from './health';
import { lowerPriority } from './priority';
import { serveMetrics, WorkerMetrics } from './metrics';

const BREAKER_LEVELS = { [BreakerState.CLOSED]: 0, [BreakerState.HALF_OPEN]: 1, [BreakerState.OPEN]: 2 } as const;

/** What the worker process holds while it runs, and lets go of when it drains. */
interface RunningWorker {
  config: WorkerConfig;
  logger: Logger;
  redis: RedisClient;
  eventsQueue: Queue;
  deadLetters: DeadLetterStore;
  eventWorker: EventWorker;
  metrics: WorkerMetrics;
  workerId: string;
  phase: WorkerPhase;
}

/**
 * The long-running worker process: `npm run worker` in development, `dist/worker.js` in
 * production. SIGTERM or SIGINT drains it (no new jobs, in-flight ones finish within
 * DRAIN_TIMEOUT_MS, then Redis and Mongo close and it exits 0); a second signal exits at once.
 */
async function main(): Promise<void> {
  const running = await startWorker(createLogger('event-worker'));
  const { config, logger, eventWorker } = running;
  const health = () =>
    assessWorkerHealth({ phase: running.phase, redisStatus: running.redis.status, fetching: eventWorker.worker.isRunning() });
  const onMetricsError = (error: Error) => logger.error('metrics endpoint unavailable', { error: error.message });
  const metricsServer = config.metricsPort > 0 ? serveMetrics(running.metrics, config.metricsPort, onMetricsError, health) : undefined;
  await eventWorker.worker.waitUntilReady();
  running.phase = WorkerPhase.RUNNING;
  const backlogMetrics = startBacklogMetrics({
    intervalMs: config.cloudMetricsIntervalMs,
    read: () => readBacklog(running.eventsQueue, running.deadLetters),
    onError: (error) => logger.warn('backlog metrics skipped', { error: String(error) }),
  });
  logStarted(running);
  stopOnSignals(running, { beforeDrain: () => backlogMetrics.stop(), afterDrain: () => metricsServer?.close() });
}

/** Connects through the composition root and starts taking jobs. */
async function startWorker(logger: Logger): Promise<RunningWorker> {
  const connection = connectionConfig();
  const config = workerConfig();
  lowerPriority(config.nice);
  useConnectionConfig(connection);
  const redis = await sharedRedis('worker');
  const db = await sharedDb();
  const deadLetters = await sharedDeadLetters('worker');
  const routing = await sharedRoutingService(config.routing);
  const eventsQueue = new Queue(EVENTS_QUEUE, { connection: redis, prefix: connection.queuePrefix });
  const breaker = new CircuitBreaker(config.breaker);
  const metrics = new WorkerMetrics({
    queueCounts: () => eventsQueue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'),
    deadLetters: () => deadLetters.pendingCount(),
    breakerState: () => BREAKER_LEVELS[breaker.state],
  });
  const workerId = `${hostname()}-${process.pid}`;
  const eventWorker = startEventWorker({
    pauses: pauseCheck(redis, connection.queuePrefix),
    config,
    redis,
    db,
    prefix: connection.queuePrefix,
    logger,
    workerId,
    metrics,
    breaker,
    deadLetters,
    routing,
  });
  return { config, logger, redis, eventsQueue, deadLetters, eventWorker, metrics, workerId, phase: WorkerPhase.STARTING };
}

function logStarted({ config, logger, workerId }: RunningWorker): void {
  logger.info('worker started', {
    workerId,
    concurrency: config.concurrency,
    rateLimitPerSecond: config.rateLimitPerSecond,
    // The URL's origin only: its path or query may carry a credential.
    routingService: config.routing.url ? new URL(config.routing.url).origin : 'simulated',
    routingTimeoutMs: config.routing.timeoutMs,
    routingLatencyMs: config.routing.latencyMs,
    routingFailureRate: config.routing.failureRate,
    metricsPort: config.metricsPort,
    cloudMetricsIntervalMs: config.cloudMetricsIntervalMs,
    nice: config.nice,
  });
}

/** What stops around the drain: backlog metrics before it, the metrics endpoint after it. */
interface Reporting {
  beforeDrain(): void;
  afterDrain(): void;
}

/** The first SIGTERM or SIGINT drains the worker and exits 0; a second exits at once. */
function stopOnSignals(running: RunningWorker, reporting: Reporting): void {
  const { config, logger } = running;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      logger.warn('second signal; exiting now', { signal });
      process.exit(1);
    }
    stopping = true;
    running.phase = WorkerPhase.DRAINING;
    reporting.beforeDrain();
    logger.info('draining', { signal, drainTimeoutMs: config.drainTimeoutMs });
    const drained = await drain(running, reporting);
    logger.info('worker stopped', { drained });
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

/** Lets in-flight jobs finish within DRAIN_TIMEOUT_MS, then closes every client. True when they all did. */
async function drain(running: RunningWorker, reporting: Reporting): Promise<boolean> {
  const { config, logger } = running;
  const drained = await Promise.race([running.eventWorker.close().then(() => true), sleep(config.drainTimeoutMs).then(() => false)]);
  if (!drained) {
    // Jobs still in flight keep their lock until it expires; BullMQ's stalled check hands them to another worker.
    logger.warn('drain time exceeded; in-flight jobs will be picked up by another worker');
  }
  reporting.afterDrain();
  await running.eventsQueue.close().catch(() => undefined);
  await closeShared();
  return drained;
}

main().catch((error: unknown) => {
  console.error(JSON.stringify({ level: 'ERROR', message: 'worker failed to start', error: String(error) }));
  process.exit(1);
});
