import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { connectionConfig, workerConfig } from '../config';
import { DeadLetterStore } from '../dead-letters/dead-letter-store';
import { createLogger } from '../logger';
import { EVENTS_QUEUE } from '../queue/names';
import { createRedis } from '../queue/redis';
import { BreakerState, CircuitBreaker } from '../routing/circuit-breaker';
import { connectMongo, ensureIndexes } from '../store/mongo';
import { readBacklog, startBacklogMetrics } from './backlog-metrics';
import { startEventWorker } from './event-worker';
import { assessWorkerHealth, WorkerPhase } from './health';
import { serveMetrics, WorkerMetrics } from './metrics';

/**
 * The long-running worker process: `npm run worker` in development, `dist/worker.js` in
 * production. SIGTERM or SIGINT drains it (no new jobs, in-flight ones finish within
 * DRAIN_TIMEOUT_MS, then Redis and Mongo close and it exits 0); a second signal exits at once.
 */
async function main(): Promise<void> {
  const logger = createLogger('event-worker');
  const connection = connectionConfig();
  const config = workerConfig();
  const redis = createRedis(connection, 'worker');
  const mongo = await connectMongo(connection.mongoUrl);
  const db = mongo.db(connection.mongoDb);
  await ensureIndexes(db);
  const workerId = `${hostname()}-${process.pid}`;
  const eventsQueue = new Queue(EVENTS_QUEUE, { connection: redis, prefix: connection.queuePrefix });
  const deadLetters = new DeadLetterStore(db, redis, connection.queuePrefix);
  const breaker = new CircuitBreaker(config.breaker);
  const breakerLevels = { [BreakerState.CLOSED]: 0, [BreakerState.HALF_OPEN]: 1, [BreakerState.OPEN]: 2 } as const;
  const metrics = new WorkerMetrics({
    queueCounts: () => eventsQueue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'),
    deadLetters: () => deadLetters.pendingCount(),
    breakerState: () => breakerLevels[breaker.state],
  });
  const eventWorker = startEventWorker({ config, redis, db, prefix: connection.queuePrefix, logger, workerId, metrics, breaker, deadLetters });
  let phase: WorkerPhase = WorkerPhase.STARTING;
  const health = () => assessWorkerHealth({ phase, redisStatus: redis.status, fetching: eventWorker.worker.isRunning() });
  const metricsServer =
    config.metricsPort > 0
      ? serveMetrics(metrics, config.metricsPort, (error) => logger.error('metrics endpoint unavailable', { error: error.message }), health)
      : undefined;
  await eventWorker.worker.waitUntilReady();
  phase = WorkerPhase.RUNNING;
  const backlogMetrics = startBacklogMetrics({
    intervalMs: config.cloudMetricsIntervalMs,
    read: () => readBacklog(eventsQueue, deadLetters),
    onError: (error) => logger.warn('backlog metrics skipped', { error: String(error) }),
  });
  logger.info('worker started', {
    workerId,
    concurrency: config.concurrency,
    rateLimitPerSecond: config.rateLimitPerSecond,
    routingLatencyMs: config.routing.latencyMs,
    routingFailureRate: config.routing.failureRate,
    metricsPort: config.metricsPort,
    cloudMetricsIntervalMs: config.cloudMetricsIntervalMs,
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      logger.warn('second signal; exiting now', { signal });
      process.exit(1);
    }
    stopping = true;
    phase = WorkerPhase.DRAINING;
    backlogMetrics.stop();
    logger.info('draining', { signal, drainTimeoutMs: config.drainTimeoutMs });
    const drained = await Promise.race([
      eventWorker.close().then(() => true),
      sleep(config.drainTimeoutMs).then(() => false),
    ]);
    if (!drained) {
      // Jobs still in flight keep their lock until it expires; BullMQ's stalled check hands them to another worker.
      logger.warn('drain time exceeded; in-flight jobs will be picked up by another worker');
    }
    metricsServer?.close();
    await eventsQueue.close().catch(() => undefined);
    await Promise.allSettled([redis.quit(), mongo.close()]);
    logger.info('worker stopped', { drained });
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((error: unknown) => {
  console.error(JSON.stringify({ level: 'ERROR', message: 'worker failed to start', error: String(error) }));
  process.exit(1);
});
