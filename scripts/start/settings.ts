import { z } from 'zod';
import type { PortClaim } from './ports';

/** Where one store comes from: a server given by URL, or one `npm start` runs on a port. */
export type StoreSetting = { url: string } | { port: number };

/** What `npm start` reads from the environment (the shell's, over .env). */
export interface StartSettings {
  httpPort: number;
  lambdaPort: number;
  /** The worker's /metrics and /health; 0 turns them off. */
  metricsPort: number;
  redis: StoreSetting;
  mongo: StoreSetting;
  /** How long the worker may drain on a stop (DRAIN_TIMEOUT_MS, as the worker reads it). */
  drainTimeoutMs: number;
}

const port = (fallback: number, min = 1) => z.coerce.number().int().min(min).max(65_535).default(fallback);

const schema = z.object({
  HTTP_PORT: port(3000),
  OFFLINE_LAMBDA_PORT: port(3002),
  METRICS_PORT: port(9464, 0),
  REDIS_PORT: port(6379),
  MONGO_PORT: port(27017),
  REDIS_URL: z.string().default(''),
  MONGO_URL: z.string().default(''),
  DRAIN_TIMEOUT_MS: z.coerce.number().int().min(0).default(20_000),
});

/** Parses the settings, failing with a message that names the variable. */
export function readStartSettings(env: NodeJS.ProcessEnv): StartSettings {
  // An empty variable means unset, as in .env.example's `OPS_API_KEYS=`.
  const given = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const parsed = schema.safeParse(given);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${issue.path.join('.')}=${String(given[String(issue.path[0])])} is not valid: ${issue.message}`);
  }
  const values = parsed.data;
  return {
    httpPort: values.HTTP_PORT,
    lambdaPort: values.OFFLINE_LAMBDA_PORT,
    metricsPort: values.METRICS_PORT,
    redis: values.REDIS_URL ? { url: values.REDIS_URL } : { port: values.REDIS_PORT },
    mongo: values.MONGO_URL ? { url: values.MONGO_URL } : { port: values.MONGO_PORT },
    drainTimeoutMs: values.DRAIN_TIMEOUT_MS,
  };
}

/** Every port this start will listen on, with the variable that moves it. */
export function portClaims(settings: StartSettings): PortClaim[] {
  return [
    { port: settings.httpPort, variable: 'HTTP_PORT', what: 'the API' },
    { port: settings.lambdaPort, variable: 'OFFLINE_LAMBDA_PORT', what: "the emulator's Lambda invoke API" },
    ...(settings.metricsPort > 0
      ? [{ port: settings.metricsPort, variable: 'METRICS_PORT', what: "the worker's metrics and health" }]
      : []),
    ...('port' in settings.redis ? [{ port: settings.redis.port, variable: 'REDIS_PORT', what: 'Redis' }] : []),
    ...('port' in settings.mongo ? [{ port: settings.mongo.port, variable: 'MONGO_PORT', what: 'FerretDB' }] : []),
  ];
}
