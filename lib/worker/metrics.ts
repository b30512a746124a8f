import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { WorkerHealth } from './health';

/** What the processor reports, so it depends on this interface and not on prom-client. */
export interface ProcessorMetrics {
  /** One processing attempt finished with this outcome, after `seconds`. */
  attemptFinished(outcome: AttemptOutcome, seconds: number): void;
  routingCall(result: 'ok' | 'error', seconds: number): void;
}

export type AttemptOutcome = 'routed' | 'duplicate' | 'already_dead_lettered' | 'retry' | 'delayed' | 'dead_lettered';

export interface MetricSources {
  queueCounts: () => Promise<Record<string, number>>;
  deadLetters: () => Promise<number>;
  /** 0 closed, 1 half-open, 2 open. */
  breakerState: () => number;
}

/** The worker's Prometheus metrics, in a registry of their own. */
export class WorkerMetrics implements ProcessorMetrics {
  readonly registry = new Registry();
  readonly #outcomes: Counter<'outcome'>;
  readonly #processing: Histogram<'outcome'>;
  readonly #routing: Histogram<'result'>;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    this.#outcomes = new Counter({
      name: 'gateway_event_attempts_total',
      help: 'Processing attempts by outcome',
      labelNames: ['outcome'],
      registers,
    });
    this.#processing = new Histogram({
      name: 'gateway_event_processing_seconds',
      help: 'Time to process one attempt, by outcome',
      labelNames: ['outcome'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30],
      registers,
    });
    this.#routing = new Histogram({
      name: 'gateway_routing_seconds',
      help: 'Routing service call latency, by result',
      labelNames: ['result'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10],
      registers,
    });
    sourceGauges(sources, registers);
    collectDefaultMetrics({ register: this.registry });
  }

  attemptFinished(outcome: AttemptOutcome, seconds: number): void {
    this.#outcomes.inc({ outcome });
    this.#processing.observe({ outcome }, seconds);
  }

  routingCall(result: 'ok' | 'error', seconds: number): void {
    this.#routing.observe({ result }, seconds);
  }
}

/**
 * Serves `GET /metrics` in Prometheus text format on `port` (all interfaces, for a scraper),
 * and `GET /health` from `health`: 200 while the worker takes jobs, 503 while it starts, drains
 * or has lost Redis. The container's HEALTHCHECK calls it, so it lives on the port the process
 * already opens rather than on one more.
 */
export function serveMetrics(metrics: WorkerMetrics, port: number, onError: (error: Error) => void, health?: () => WorkerHealth): Server {
  const server = createServer((request, response) => {
    if (request.method === 'GET' && request.url === '/health' && health) {
      const report = health();
      response.writeHead(report.healthy ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(report));
      return;
    }
    if (request.method !== 'GET' || request.url !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    metrics.registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      () => response.writeHead(500).end(),
    );
  });
  // A taken port costs the metrics endpoint, never the worker.
  server.on('error', onError);
  server.listen(port);
  return server;
}

/** Gauges read from their sources when Prometheus scrapes, not kept up to date between scrapes. */
function sourceGauges(sources: MetricSources, registers: Registry[]): void {
  new Gauge({
    name: 'gateway_queue_jobs',
    help: 'Jobs in the events queue, by state',
    labelNames: ['state'],
    registers,
    async collect() {
      for (const [state, count] of Object.entries(await sources.queueCounts())) this.set({ state }, count);
    },
  });
  new Gauge({
    name: 'gateway_dead_letters',
    help: 'Dead letters waiting for an operator',
    registers,
    async collect() {
      this.set(await sources.deadLetters());
    },
  });
  new Gauge({
    name: 'gateway_routing_breaker_state',
    help: 'Routing circuit breaker: 0 closed, 1 half-open, 2 open',
    registers,
    collect() {
      this.set(sources.breakerState());
    },
  });
}
