import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Queue } from 'bullmq';
import type { DeadLetterStore } from '../dead-letters/dead-letter-store';
import { oldestWaitingSeconds } from '../ops/stats';

/**
 * The CloudWatch names the deployment's alarms and the worker service's autoscaling policy
 * refer to. Renaming one here silently detaches them, so they are constants, not literals.
 */
export const BACKLOG_METRICS = {
  namespace: 'CourierEventGateway',
  serviceName: 'worker',
  backlog: 'Backlog',
  oldestWaitingAge: 'OldestWaitingAgeSeconds',
  deadLettersPending: 'DeadLettersPending',
} as const;

/** One reading of how far behind the workers are. */
export interface BacklogReading {
  /** Jobs not yet taken by a worker: waiting + prioritized + delayed (retries waiting out their backoff). */
  backlog: number;
  oldestWaitingAgeSeconds: number;
  deadLettersPending: number;
}

/** Jobs a worker still has to start, from BullMQ's counts by state. */
export function backlogSize(counts: Record<string, number | undefined>): number {
  return (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0);
}

/** Reads the events queue and the dead-letter store; the three reads run together. */
export async function readBacklog(
  events: Pick<Queue, 'getJobCounts' | 'getJobs'>,
  deadLetters: Pick<DeadLetterStore, 'pendingCount'>,
  now = Date.now(),
): Promise<BacklogReading> {
  const [counts, oldestWaitingAgeSeconds, deadLettersPending] = await Promise.all([
    events.getJobCounts('waiting', 'prioritized', 'delayed'),
    oldestWaitingSeconds(events, now),
    deadLetters.pendingCount(),
  ]);
  return { backlog: backlogSize(counts), oldestWaitingAgeSeconds, deadLettersPending };
}

/** Writes one reading as one EMF line (Powertools adds the `service` dimension). */
export function publishBacklog(metrics: Metrics, reading: BacklogReading): void {
  metrics.addMetric(BACKLOG_METRICS.backlog, MetricUnit.Count, reading.backlog);
  metrics.addMetric(BACKLOG_METRICS.oldestWaitingAge, MetricUnit.Seconds, reading.oldestWaitingAgeSeconds);
  metrics.addMetric(BACKLOG_METRICS.deadLettersPending, MetricUnit.Count, reading.deadLettersPending);
  metrics.publishStoredMetrics();
}

export interface BacklogMetricsOptions {
  /** Milliseconds between readings; 0 publishes nothing. */
  intervalMs: number;
  read: () => Promise<BacklogReading>;
  /** Told about a reading that failed; the next interval tries again. */
  onError: (error: unknown) => void;
  /** Default: a Powertools `Metrics` for {@link BACKLOG_METRICS}, writing to stdout. */
  metrics?: Metrics;
}

export interface BacklogMetricsPublisher {
  /** Reads and publishes once, now; resolves after the line is written or the failure reported. */
  publishNow(): Promise<void>;
  /** Clears the timer. Safe to call twice. */
  stop(): void;
}

/**
 * Publishes the backlog as CloudWatch metrics in Embedded Metric Format, once at start and then
 * every `intervalMs`: on ECS the task's log driver carries the line to CloudWatch Logs, which
 * turns it into metrics, so the worker needs no AWS SDK or credentials for them. Every worker
 * task publishes the same queue-wide numbers, so alarms and scaling read Maximum or Average,
 * never Sum. A failed read is reported and skipped (a metrics gap, which alarms can treat as
 * breaching); it never reaches the worker. A reading still in flight when the next is due
 * is not doubled up.
 *
 * @example
 * const publisher = startBacklogMetrics({ intervalMs: 60_000, read: () => readBacklog(events, deadLetters), onError });
 * process.once('SIGTERM', () => publisher.stop());
 */
export function startBacklogMetrics(options: BacklogMetricsOptions): BacklogMetricsPublisher {
  const metrics = options.metrics ?? new Metrics({ namespace: BACKLOG_METRICS.namespace, serviceName: BACKLOG_METRICS.serviceName });
  let inFlight: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const publishNow = () => {
    // A reading that lands after stop() is dropped: its stores may be closing under it.
    inFlight ??= options
      .read()
      .then((reading) => stopped || publishBacklog(metrics, reading))
      .catch((error: unknown) => stopped || options.onError(error))
      .then(() => undefined)
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };

  if (options.intervalMs > 0) {
    void publishNow();
    timer = setInterval(() => void publishNow(), options.intervalMs);
    // The worker's own shutdown decides when the process ends, never this timer.
    timer.unref();
  }
  return {
    publishNow,
    stop() {
      stopped = true;
      clearInterval(timer);
      timer = undefined;
    },
  };
}
