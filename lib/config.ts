import { z } from 'zod';
import { ConfigError } from './errors';

/**
 * The only module that reads `process.env`. Each part of the system parses just the variables
 * it needs, once, at start-up, and fails with a message naming the variable that is wrong.
 */

const int = (fallback: number, min = 0) => z.coerce.number().int().min(min).default(fallback);
const csv = z
  .string()
  .default('')
  .transform((value) =>
    value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item.length > 0),
  );

const connectionSchema = z.object({
  REDIS_URL: z.url().default('redis://127.0.0.1:6379'),
  MONGO_URL: z.string().startsWith('mongodb').default('mongodb://127.0.0.1:27017/gateway'),
  /** Database name; when empty, the one in MONGO_URL's path, else `gateway`. */
  MONGO_DB: z.string().default(''),
  /** BullMQ key prefix: lets several gateways (or test runs) share one Redis. */
  QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_-]+$/).default('gateway'),
  /** Attempts an event gets before it is dead-lettered; set on each job when it is queued. */
  JOB_ATTEMPTS: int(5, 1),
});

/** `dhl=secretA|secretB,fedex=secretC`: each source's own secrets, several during a rotation. */
const sourceSecrets = csv.transform((entries, ctx) => {
  const bySource: Record<string, string[]> = {};
  for (const entry of entries) {
    const at = entry.indexOf('=');
    const source = entry.slice(0, at).trim();
    const secrets = entry.slice(at + 1).split('|').map((secret) => secret.trim()).filter(Boolean);
    if (at <= 0 || !/^[A-Za-z0-9._-]+$/.test(source) || secrets.length === 0) {
      ctx.addIssue({ code: 'custom', message: `"${source || entry.slice(0, 20)}…" is not source=secret[|secret]` });
      return z.NEVER;
    }
    bySource[source] = secrets;
  }
  return bySource;
});

const ingestSchema = z.object({
  WEBHOOK_SECRETS: csv.refine((secrets) => secrets.length > 0, {
    message: 'set at least one secret (comma-separated, several for rotation)',
  }),
  SOURCE_SECRETS: sourceSecrets,
  /** Above this many waiting or delayed events, ingest answers 429 instead of filling Redis. */
  MAX_BACKLOG: int(100_000, 1),
  BACKLOG_CACHE_MS: int(1000, 0),
  BACKLOG_RETRY_AFTER_SECONDS: int(30, 1),
  SIGNATURE_TOLERANCE_SECONDS: int(300, 1),
  MAX_BODY_BYTES: int(256 * 1024, 1),
  ENQUEUE_TIMEOUT_MS: int(1500, 50),
  /** Reply counts (EMF metrics) are published at most this often per function instance. */
  METRICS_FLUSH_MS: int(10_000, 0),
});

const workerSchema = z.object({
  WORKER_CONCURRENCY: int(50, 1),
  /** Jobs per second across this worker; 0 turns the limiter off. */
  WORKER_RATE_LIMIT_PER_SECOND: int(0),
  BACKOFF_BASE_MS: int(1000, 1),
  BACKOFF_MAX_MS: int(60_000, 1),
  BACKOFF_JITTER: z.coerce.number().min(0).max(1).default(0.5),
  LEASE_MS: int(30_000, 1000),
  DRAIN_TIMEOUT_MS: int(20_000, 0),
  ROUTING_LATENCY_MS: int(2000),
  ROUTING_FAILURE_RATE: z.coerce.number().min(0).max(1).default(0),
  ROUTING_TIMEOUT_MS: int(5000, 1),
  BREAKER_FAILURE_THRESHOLD: int(5, 1),
  BREAKER_COOLDOWN_MS: int(10_000, 1),
  /** Times a job may be orphaned by a crashed worker and come back before BullMQ fails it. */
  MAX_STALLED_COUNT: int(20, 1),
  /** Port of the worker's Prometheus endpoint (GET /metrics); 0 turns it off. */
  METRICS_PORT: int(9464),
});

const opsSchema = z.object({
  /** Operator API keys, comma-separated (several during a rotation). Empty: every ops call is refused. */
  OPS_API_KEYS: csv,
  /** Default pace of a replay, events per second, so a large replay does not starve live traffic. */
  REPLAY_RATE_PER_SECOND: int(50, 1),
});

export interface OpsConfig {
  apiKeys: string[];
  replayRatePerSecond: number;
}

export interface ConnectionConfig {
  redisUrl: string;
  mongoUrl: string;
  mongoDb: string;
  queuePrefix: string;
  jobAttempts: number;
}

export interface IngestConfig {
  secrets: string[];
  /** Secrets of the per-source routes (`/v1/sources/{source}/events`), by source. */
  sourceSecrets: Record<string, string[]>;
  maxBacklog: number;
  backlogCacheMs: number;
  backlogRetryAfterSeconds: number;
  toleranceSeconds: number;
  maxBodyBytes: number;
  enqueueTimeoutMs: number;
  metricsFlushMs: number;
}

export interface WorkerConfig {
  concurrency: number;
  rateLimitPerSecond: number;
  backoff: { baseMs: number; maxMs: number; jitter: number };
  leaseMs: number;
  drainTimeoutMs: number;
  routing: { latencyMs: number; failureRate: number; timeoutMs: number };
  breaker: { failureThreshold: number; cooldownMs: number };
  maxStalledCount: number;
  metricsPort: number;
}

type Env = Record<string, string | undefined>;

function parse<S extends z.ZodType>(schema: S, env: Env): z.output<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`invalid environment: ${problems.join('; ')}`);
  }
  return result.data;
}

/** Where Redis and Mongo are. */
export function connectionConfig(env: Env = process.env): ConnectionConfig {
  const parsed = parse(connectionSchema, env);
  const dbFromUrl = new URL(parsed.MONGO_URL.replace(/^mongodb(\+srv)?:/, 'http:')).pathname.slice(1);
  return {
    redisUrl: parsed.REDIS_URL,
    mongoUrl: parsed.MONGO_URL,
    mongoDb: parsed.MONGO_DB || dbFromUrl || 'gateway',
    queuePrefix: parsed.QUEUE_PREFIX,
    jobAttempts: parsed.JOB_ATTEMPTS,
  };
}

/** What the ingest edge needs: the signing secrets and the limits of the door. */
export function ingestConfig(env: Env = process.env): IngestConfig {
  const parsed = parse(ingestSchema, env);
  return {
    secrets: parsed.WEBHOOK_SECRETS,
    sourceSecrets: parsed.SOURCE_SECRETS,
    maxBacklog: parsed.MAX_BACKLOG,
    backlogCacheMs: parsed.BACKLOG_CACHE_MS,
    backlogRetryAfterSeconds: parsed.BACKLOG_RETRY_AFTER_SECONDS,
    toleranceSeconds: parsed.SIGNATURE_TOLERANCE_SECONDS,
    maxBodyBytes: parsed.MAX_BODY_BYTES,
    enqueueTimeoutMs: parsed.ENQUEUE_TIMEOUT_MS,
    metricsFlushMs: parsed.METRICS_FLUSH_MS,
  };
}

/** The worker's pace, retry policy and the routing service's behaviour. */
export function workerConfig(env: Env = process.env): WorkerConfig {
  const parsed = parse(workerSchema, env);
  return {
    concurrency: parsed.WORKER_CONCURRENCY,
    rateLimitPerSecond: parsed.WORKER_RATE_LIMIT_PER_SECOND,
    backoff: {
      baseMs: parsed.BACKOFF_BASE_MS,
      maxMs: parsed.BACKOFF_MAX_MS,
      jitter: parsed.BACKOFF_JITTER,
    },
    leaseMs: parsed.LEASE_MS,
    drainTimeoutMs: parsed.DRAIN_TIMEOUT_MS,
    routing: {
      latencyMs: parsed.ROUTING_LATENCY_MS,
      failureRate: parsed.ROUTING_FAILURE_RATE,
      timeoutMs: parsed.ROUTING_TIMEOUT_MS,
    },
    breaker: { failureThreshold: parsed.BREAKER_FAILURE_THRESHOLD, cooldownMs: parsed.BREAKER_COOLDOWN_MS },
    maxStalledCount: parsed.MAX_STALLED_COUNT,
    metricsPort: parsed.METRICS_PORT,
  };
}

/** The operator surface: who may call it, and how fast replays go by default. */
export function opsConfig(env: Env = process.env): OpsConfig {
  const parsed = parse(opsSchema, env);
  return { apiKeys: parsed.OPS_API_KEYS, replayRatePerSecond: parsed.REPLAY_RATE_PER_SECOND };
}
