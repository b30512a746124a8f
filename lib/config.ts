import { z } from 'zod';
import { ConfigError } from './errors';

/**
 * The only module that reads `process.env`. Each part of the system parses just the variables
 * it needs, once, at start-up, and fails with a message naming the variable that is wrong.
 */

const int = (fallback: number, min = 0) => z.coerce.number().int().min(min).default(fallback);
const flag = z
  .enum(['true', 'false'])
  .default('false')
  .transform((value) => value === 'true');
const csv = z
  .string()
  .default('')
  .transform((value) =>
    value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item.length > 0),
  );

/** A plain prefix (`gateway`) or a Redis Cluster hash tag (`{gateway}`). */
const QUEUE_PREFIX_PATTERN = /^(\{[A-Za-z0-9_-]+\}|[A-Za-z0-9_-]+)$/;

const redisUrl = z.url().default('redis://127.0.0.1:6379');
const mongoUrl = z.string().startsWith('mongodb').default('mongodb://127.0.0.1:27017/gateway');

// BullMQ's Lua scripts (and the gateway's pipelines) touch several keys at once; on a cluster
// that works only when every key hashes to one slot, which a `{hash tag}` prefix guarantees.
const connectionSchema = z
  .object({
    /** One node of a cluster when REDIS_CLUSTER is true (the configuration endpoint on ElastiCache). */
    REDIS_URL: redisUrl,
    /** Talk to Redis Cluster (ElastiCache cluster mode, ElastiCache Serverless) instead of one server. */
    REDIS_CLUSTER: flag,
    MONGO_URL: mongoUrl,
    /** Database name; when empty, the one in MONGO_URL's path, else `gateway`. */
    MONGO_DB: z.string().default(''),
    /** BullMQ key prefix: lets several gateways (or test runs) share one Redis. */
    QUEUE_PREFIX: z.string().regex(QUEUE_PREFIX_PATTERN, 'letters, digits, _ and -, optionally in {braces}').default('gateway'),
    /** Attempts an event gets before it is dead-lettered; set on each job when it is queued. */
    JOB_ATTEMPTS: int(5, 1),
  })
  .refine((env) => !env.REDIS_CLUSTER || env.QUEUE_PREFIX.startsWith('{'), {
    path: ['QUEUE_PREFIX'],
    message:
      "with REDIS_CLUSTER=true it must be a hash tag such as {gateway}: every BullMQ key and the gateway's own keys must share one slot",
  })
  .refine((env) => !env.REDIS_CLUSTER || /^\/?0?$/.test(new URL(env.REDIS_URL).pathname), {
    path: ['REDIS_URL'],
    message: 'a Redis Cluster has only database 0: drop the /<db> path',
  })
  .transform((env) => {
    const dbFromUrl = new URL(env.MONGO_URL.replace(/^mongodb(\+srv)?:/, 'http:')).pathname.slice(1);
    return {
      redisUrl: env.REDIS_URL,
      /** REDIS_URL is a node of a Redis Cluster; QUEUE_PREFIX is then a `{hash tag}`. */
      redisCluster: env.REDIS_CLUSTER,
      mongoUrl: env.MONGO_URL,
      mongoDb: env.MONGO_DB || dbFromUrl || 'gateway',
      queuePrefix: env.QUEUE_PREFIX,
      jobAttempts: env.JOB_ATTEMPTS,
    };
  });

/** `dhl=secretA|secretB,fedex=secretC`: each source's own secrets, several during a rotation. */
const sourceSecrets = csv.transform((entries, ctx) => {
  const bySource: Record<string, string[]> = {};
  for (const entry of entries) {
    const at = entry.indexOf('=');
    const source = entry.slice(0, at).trim();
    const secrets = entry
      .slice(at + 1)
      .split('|')
      .map((secret) => secret.trim())
      .filter(Boolean);
    if (at <= 0 || !/^[A-Za-z0-9._-]+$/.test(source) || secrets.length === 0) {
      // Names the source only when it looks like one: anything else may be a secret pasted without `source=`.
      const which = at > 0 && /^[A-Za-z0-9._-]+$/.test(source) ? `"${source}=…"` : `entry ${entries.indexOf(entry) + 1}`;
      ctx.addIssue({ code: 'custom', message: `${which} is not source=secret[|secret]` });
      return z.NEVER;
    }
    bySource[source] = secrets;
  }
  return bySource;
});

/**
 * The values that are secret in the cloud. With SECRETS_SOURCE=env they are these variables;
 * with `ssm` they are read at run time from SSM parameters of the same names and formats.
 */
const secretValuesSchema = z
  .object({
    /** Signing secrets of `POST /v1/events`, comma-separated (several during a rotation). */
    WEBHOOK_SECRETS: csv,
    SOURCE_SECRETS: sourceSecrets,
    /** Operator API keys, comma-separated (several during a rotation). Empty: every ops call is refused. */
    OPS_API_KEYS: csv,
    /** Read-only keys of the status route, comma-separated; operator keys are accepted there too. */
    STATUS_API_KEYS: csv,
    // URLs carry credentials (a Redis AUTH token, a MongoDB password).
    REDIS_URL: redisUrl,
    MONGO_URL: mongoUrl,
  })
  .transform((env) => ({
    webhookSecrets: env.WEBHOOK_SECRETS,
    /** Secrets of the per-source routes (`/v1/sources/{source}/events`), by source. */
    sourceSecrets: env.SOURCE_SECRETS,
    opsApiKeys: env.OPS_API_KEYS,
    statusApiKeys: env.STATUS_API_KEYS,
    redisUrl: env.REDIS_URL,
    mongoUrl: env.MONGO_URL,
  }));

/** An SSM path: `/courier-event-gateway/prod`, no trailing slash. */
const SSM_PATH_PATTERN = /^(\/[A-Za-z0-9_.-]+)+$/;

const secretsSourceSchema = z.object({
  /** `env`: the variables above. `ssm`: SSM Parameter Store under SECRETS_PATH (Lambdas of a cloud stage). */
  SECRETS_SOURCE: z.enum(['env', 'ssm']).default('env'),
});

// Checked only when SSM is the source: with env secrets they mean nothing, and must not stop a process.
const ssmSecretsSchema = z
  .object({
    SECRETS_PATH: z
      .string({ error: 'required when SECRETS_SOURCE=ssm' })
      .regex(SSM_PATH_PATTERN, 'an SSM path such as /courier-event-gateway/prod'),
    /** How long a value read from SSM is used before it is read again: the delay before a rotation applies. */
    SECRETS_MAX_AGE_SECONDS: int(60, 1),
  })
  .transform((env) => ({
    source: 'ssm' as const,
    /** The stage's SSM path, no trailing slash. */
    path: env.SECRETS_PATH,
    maxAgeSeconds: env.SECRETS_MAX_AGE_SECONDS,
  }));

const statusSchema = z
  .object({
    /** `true` lets anyone read an event's state (the dev stage); otherwise a key is required. */
    STATUS_ROUTE_OPEN: flag,
    /**
     * `true` shows anyone what `GET /ready` found (the dev stage); otherwise only an operator key
     * sees which secret is missing or which store is down, and others get `{ ready }` alone.
     */
    READY_DETAILS_OPEN: flag,
  })
  .transform((env) => ({
    /** The status route answers without a key. */
    routeOpen: env.STATUS_ROUTE_OPEN,
    /** `GET /ready` shows its checks without a key. */
    readyDetailsOpen: env.READY_DETAILS_OPEN,
  }));

const ingestSchema = z
  .object({
    /** Above this many waiting or delayed events, ingest answers 429 instead of filling Redis. */
    MAX_BACKLOG: int(100_000, 1),
    BACKLOG_CACHE_MS: int(1000, 0),
    BACKLOG_RETRY_AFTER_SECONDS: int(30, 1),
    SIGNATURE_TOLERANCE_SECONDS: int(300, 1),
    MAX_BODY_BYTES: int(256 * 1024, 1),
    /**
     * How long ingest waits for Redis before answering 503. Below the function's 10 s timeout
     * (serverless.yml), so a hung enqueue is answered by the handler, never cut by the platform.
     */
    ENQUEUE_TIMEOUT_MS: int(1500, 50).pipe(z.number().max(9000)),
    /** Reply counts (EMF metrics) are published at most this often per function instance. */
    METRICS_FLUSH_MS: int(10_000, 0),
  })
  .transform((env) => ({
    maxBacklog: env.MAX_BACKLOG,
    backlogCacheMs: env.BACKLOG_CACHE_MS,
    backlogRetryAfterSeconds: env.BACKLOG_RETRY_AFTER_SECONDS,
    toleranceSeconds: env.SIGNATURE_TOLERANCE_SECONDS,
    maxBodyBytes: env.MAX_BODY_BYTES,
    enqueueTimeoutMs: env.ENQUEUE_TIMEOUT_MS,
    metricsFlushMs: env.METRICS_FLUSH_MS,
  }));

/** ROUTING_URL's value that asks for the built-in simulator explicitly (a cloud stage must say so). */
const SIMULATOR = 'simulator';

/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME_PATTERN = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

/** `Name: value`, one header line; empty means none. The value is a credential: never in a message. */
const headerLine = z
  .string()
  .default('')
  .transform((line, ctx) => {
    if (line.trim() === '') return undefined;
    const at = line.indexOf(':');
    const name = line.slice(0, at).trim();
    const value = line.slice(at + 1).trim();
    if (at <= 0 || !HEADER_NAME_PATTERN.test(name) || value === '') {
      ctx.addIssue({ code: 'custom', message: 'must be one header line, "Header-Name: value" (e.g. "Authorization: Bearer ...")' });
      return z.NEVER;
    }
    return { name: name.toLowerCase(), value };
  });

const workerSchema = z
  .object({
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
    /** A routing call not answered within this is abandoned as a transient failure (any routing service). */
    ROUTING_TIMEOUT_MS: int(5000, 1),
    /**
     * The routing service's URL (POST, JSON); empty or `simulator`: the simulator (ROUTING_LATENCY_MS,
     * ROUTING_FAILURE_RATE). A cloud stage must say which (the routingUrl stage parameter).
     */
    ROUTING_URL: z.union([z.literal(''), z.literal(SIMULATOR), z.url({ protocol: /^https?$/ })]).default(''),
    /**
     * A header sent on every call to ROUTING_URL, `Name: value`: the routing service's credential.
     * In a cloud stage ECS injects it from the SSM parameter ROUTING_AUTH_HEADER (routingAuth=true).
     */
    ROUTING_AUTH_HEADER: headerLine,
    BREAKER_FAILURE_THRESHOLD: int(5, 1),
    BREAKER_COOLDOWN_MS: int(10_000, 1),
    /** Times a job may be orphaned by a crashed worker and come back before BullMQ fails it. */
    MAX_STALLED_COUNT: int(20, 1),
    /** Port of the worker's Prometheus endpoint (GET /metrics); 0 turns it off. */
    METRICS_PORT: int(9464),
    /** How often the worker publishes backlog metrics to CloudWatch (EMF on stdout); 0 turns them off. */
    WORKER_CLOUD_METRICS_MS: int(60_000),
    /**
     * The worker's nice value (0-19): a CPU priority below the door's where both share a machine,
     * so a burst at the door is served first and the worker catches up after it. 0 leaves it as is.
     */
    WORKER_NICE: z.coerce.number().int().min(0).max(19).default(10),
  })
  .refine((env) => env.ROUTING_AUTH_HEADER === undefined || (env.ROUTING_URL !== '' && env.ROUTING_URL !== SIMULATOR), {
    path: ['ROUTING_AUTH_HEADER'],
    message: 'is sent to ROUTING_URL, which is empty (the simulator takes no credential)',
  })
  .transform((env) => ({
    concurrency: env.WORKER_CONCURRENCY,
    rateLimitPerSecond: env.WORKER_RATE_LIMIT_PER_SECOND,
    backoff: { baseMs: env.BACKOFF_BASE_MS, maxMs: env.BACKOFF_MAX_MS, jitter: env.BACKOFF_JITTER },
    leaseMs: env.LEASE_MS,
    drainTimeoutMs: env.DRAIN_TIMEOUT_MS,
    routing: {
      latencyMs: env.ROUTING_LATENCY_MS,
      failureRate: env.ROUTING_FAILURE_RATE,
      timeoutMs: env.ROUTING_TIMEOUT_MS,
      /** Absent: the simulator. */
      url: env.ROUTING_URL === SIMULATOR ? undefined : env.ROUTING_URL || undefined,
      /** Sent on every call to `url`; absent when ROUTING_AUTH_HEADER is empty. */
      authHeader: env.ROUTING_AUTH_HEADER,
    },
    breaker: { failureThreshold: env.BREAKER_FAILURE_THRESHOLD, cooldownMs: env.BREAKER_COOLDOWN_MS },
    maxStalledCount: env.MAX_STALLED_COUNT,
    metricsPort: env.METRICS_PORT,
    /** Interval of the backlog metrics ECS scales and alarms on; 0 when they are off. */
    cloudMetricsIntervalMs: env.WORKER_CLOUD_METRICS_MS,
    nice: env.WORKER_NICE,
  }));

const opsSchema = z
  .object({
    /** Default pace of a replay, events per second, so a large replay does not starve live traffic. */
    REPLAY_RATE_PER_SECOND: int(50, 1),
    /** How long the audit trail keeps a record of an operator action (a TTL index; FerretDB keeps them). */
    AUDIT_RETENTION_DAYS: int(400, 1),
  })
  .transform((env) => ({ replayRatePerSecond: env.REPLAY_RATE_PER_SECOND, auditRetentionDays: env.AUDIT_RETENTION_DAYS }));

// Set by the serverless CLI, not by a deploy: so not among `environmentVariables` below.
const invocationSchema = z
  .object({
    /** `true` under `serverless invoke local`, which waits for open sockets before it exits. */
    IS_LOCAL: flag,
  })
  .transform((env) => ({ invokedLocally: env.IS_LOCAL }));

export type ConnectionConfig = z.output<typeof connectionSchema>;
/** The secret values, parsed; where they come from is the secrets provider's business. */
export type SecretValues = z.output<typeof secretValuesSchema>;
export type SecretsSourceConfig = { source: 'env' } | z.output<typeof ssmSecretsSchema>;
export type StatusConfig = z.output<typeof statusSchema>;
export type IngestConfig = z.output<typeof ingestSchema>;
export type WorkerConfig = z.output<typeof workerSchema>;
export type OpsConfig = z.output<typeof opsSchema>;
export type InvocationConfig = z.output<typeof invocationSchema>;

/**
 * Every variable the gateway reads, by name, with its schema (and so its default): what the
 * deploy files and .env.example are checked against.
 */
export const environmentVariables: Readonly<Record<string, z.ZodType>> = {
  ...connectionSchema.in.shape,
  ...secretValuesSchema.in.shape,
  ...secretsSourceSchema.shape,
  ...ssmSecretsSchema.in.shape,
  ...statusSchema.in.shape,
  ...ingestSchema.in.shape,
  ...workerSchema.in.shape,
  ...opsSchema.in.shape,
};

type Env = Record<string, string | undefined>;

/** How a problem names where the value came from: the variable, or an SSM parameter. */
interface Source {
  what: string;
  nameOf: (variable: string) => string;
}

const ENVIRONMENT: Source = { what: 'environment', nameOf: (variable) => variable };

function parse<S extends z.ZodType>(schema: S, env: Env, source: Source = ENVIRONMENT): z.output<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${source.nameOf(issue.path.join('.'))}: ${issue.message}`);
    throw new ConfigError(`invalid ${source.what}: ${problems.join('; ')}`);
  }
  return result.data;
}

/**
 * Where Redis and Mongo are. `urls`, when given, replace REDIS_URL and MONGO_URL: with SSM
 * secrets they are parameters, read at run time, and checked here like the variables.
 */
export function connectionConfig(env: Env = process.env, urls?: Pick<SecretValues, 'redisUrl' | 'mongoUrl'>): ConnectionConfig {
  return parse(connectionSchema, urls ? { ...env, REDIS_URL: urls.redisUrl, MONGO_URL: urls.mongoUrl } : env);
}

/** What the ingest edge needs: the limits of the door (its secrets come from the secrets provider). */
export function ingestConfig(env: Env = process.env): IngestConfig {
  return parse(ingestSchema, env);
}

/** The worker's pace, retry policy and the routing service's behaviour. */
export function workerConfig(env: Env = process.env): WorkerConfig {
  return parse(workerSchema, env);
}

/** The operator surface: who may call it, and how fast replays go by default. */
export function opsConfig(env: Env = process.env): OpsConfig {
  return parse(opsSchema, env);
}

/** Whether the status route, and the details of `GET /ready`, need a key. */
export function statusConfig(env: Env = process.env): StatusConfig {
  return parse(statusSchema, env);
}

/** Where the secrets come from: the environment, or SSM Parameter Store (SECRETS_SOURCE). */
export function secretsSourceConfig(env: Env = process.env): SecretsSourceConfig {
  if (parse(secretsSourceSchema, env).SECRETS_SOURCE === 'env') return { source: 'env' };
  return parse(ssmSecretsSchema, env);
}

/**
 * Parses the secret values, by variable name: the environment's, or the values of the SSM
 * parameters of the same names. A bad value is a ConfigError naming `nameOf(variable)`
 * (the full parameter name), never showing the value.
 *
 * @example
 * secretValues({ WEBHOOK_SECRETS: 'new,old' }).webhookSecrets; // ['new', 'old']
 */
export function secretValues(values: Env = process.env, nameOf?: (variable: string) => string): SecretValues {
  return parse(secretValuesSchema, values, nameOf ? { what: 'secrets', nameOf } : ENVIRONMENT);
}

/** How this process was started: `invokedLocally` under `serverless invoke local`. */
export function invocationConfig(env: Env = process.env): InvocationConfig {
  return parse(invocationSchema, env);
}
