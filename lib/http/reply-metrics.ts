import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type middy from '@middy/core';

export interface ReplyMetricsOptions {
  namespace: string;
  serviceName: string;
  /** Counts are published at most this often (and on the first request), not once per request. */
  flushIntervalMs: number;
  now?: () => number;
}

/**
 * Middy middleware: counts replies by status code and publishes them as CloudWatch metrics in
 * Embedded Metric Format (Powertools Metrics): one JSON line on stdout per status code and
 * interval, which Lambda's log pipeline turns into metrics and the emulator simply prints.
 * Batching keeps the per-request cost to a counter increment.
 */
export function replyMetrics(options: ReplyMetricsOptions): middy.MiddlewareObj<unknown, { statusCode?: number } | undefined> {
  const now = options.now ?? Date.now;
  const metrics = new Metrics({ namespace: options.namespace, serviceName: options.serviceName });
  const counts = new Map<number, number>();
  let lastFlush = Number.NEGATIVE_INFINITY;

  const record = (statusCode: number | undefined) => {
    const status = statusCode ?? 500;
    counts.set(status, (counts.get(status) ?? 0) + 1);
    if (now() - lastFlush < options.flushIntervalMs) return;
    lastFlush = now();
    for (const [code, count] of counts) {
      metrics.addDimension('statusCode', String(code));
      metrics.addMetric('Replies', MetricUnit.Count, count);
      metrics.publishStoredMetrics();
    }
    counts.clear();
  };

  return {
    after: (request) => record(request.response?.statusCode),
    onError: (request) => record(request.response?.statusCode),
  };
}
