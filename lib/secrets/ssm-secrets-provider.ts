import type { Logger } from '@aws-lambda-powertools/logger';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { secretValues } from '../config';
import { ConfigError, SecretsUnavailableError } from '../errors';
import { ALL_SECRETS, parameterName, SECRET_PARAMETERS, type SecretName } from './secret-parameters';
import { MISSING_SECRETS_MESSAGE, SecretsSnapshot, type Secrets, type SecretsProvider } from './secrets-provider';

/** Reads parameters by full name; returns the values of those that exist (absent ones are left out). */
export type ReadParameters = (names: readonly string[], maxAgeSeconds: number) => Promise<Record<string, string>>;

export interface SsmSecretsProviderOptions {
  /** The stage's SSM path (SECRETS_PATH), e.g. `/courier-event-gateway/prod`. */
  path: string;
  /** How long one read is used (SECRETS_MAX_AGE_SECONDS): the delay before a rotation applies. */
  maxAgeSeconds: number;
  logger: Logger;
  /** Default {@link readSsmParameters}; tests pass their own. */
  read?: ReadParameters;
  /** Milliseconds since the epoch; default `Date.now`. */
  now?: () => number;
}

/** After a failed read, the next one is tried this soon (or after the max age, if shorter). */
const RETRY_AFTER_FAILURE_MS = 5000;

let ssm: SSMProvider | undefined;

/**
 * The SSM client's settings. Parameter Store answers 40 GetParameters a second per account by
 * default, and a burst of cold starts (ingest may run 100 at once) asks more: the throttled calls
 * are retried, up to 4 attempts, with the SDK's standard retry mode, whose delays are exponential
 * with full jitter (throttling from a 500 ms base), so the herd spreads out instead of retrying
 * in step. Each attempt gives up within seconds: a Lambda in a VPC with no route to SSM answers
 * 503 in about 5 s, inside its 10 s timeout, not at it.
 */
export const SSM_CLIENT_CONFIG = {
  maxAttempts: 4,
  retryMode: 'standard',
  requestHandler: { connectionTimeout: 1000, requestTimeout: 2000 },
} as const;

/**
 * Powertools' SSM provider: every parameter in one GetParameters call, decrypted, and kept in its
 * in-memory cache for `maxAgeSeconds`. Absent names come back under `_errors` instead of failing
 * the call (`throwOnError: false`).
 */
export const readSsmParameters: ReadParameters = async (names, maxAgeSeconds) => {
  ssm ??= new SSMProvider({ clientConfig: SSM_CLIENT_CONFIG });
  const result = await ssm.getParametersByName(Object.fromEntries(names.map((name) => [name, {}])), {
    decrypt: true,
    maxAge: maxAgeSeconds,
    throwOnError: false,
  });
  const values: Record<string, string> = {};
  for (const name of names) if (typeof result[name] === 'string') values[name] = result[name];
  return values;
};

interface Entry {
  snapshot?: SecretsSnapshot;
  error?: SecretsUnavailableError;
  expiresAt: number;
}

/**
 * SECRETS_SOURCE=ssm: the secrets of a cloud stage, read from SSM Parameter Store at run time
 * and kept for SECRETS_MAX_AGE_SECONDS, so a rotated secret applies within that time and no
 * request pays for a network call in between. One read serves every parameter, and concurrent
 * requests share it.
 *
 * - A required parameter that is absent is logged at ERROR with its full name on each read, and
 *   the routes that need it answer 503 (`MissingSecretError`) until it exists.
 * - A value that does not parse fails every route the same way (`SecretsUnavailableError`).
 * - When SSM cannot be reached, the last values read stay in use and the read is retried soon;
 *   with none yet, requests get a 503.
 *
 * @example
 * const secrets = new SsmSecretsProvider({ path: '/courier-event-gateway/prod', maxAgeSeconds: 60, logger });
 * const { opsApiKeys } = await secrets.get(['OPS_API_KEYS']);
 */
export class SsmSecretsProvider implements SecretsProvider {
  readonly #path: string;
  readonly #maxAgeMs: number;
  readonly #maxAgeSeconds: number;
  readonly #logger: Logger;
  readonly #read: ReadParameters;
  readonly #now: () => number;
  #entry: Entry | undefined;
  #reading: Promise<Entry> | undefined;

  constructor(options: SsmSecretsProviderOptions) {
    this.#path = options.path;
    this.#maxAgeSeconds = options.maxAgeSeconds;
    this.#maxAgeMs = options.maxAgeSeconds * 1000;
    this.#logger = options.logger;
    this.#read = options.read ?? readSsmParameters;
    this.#now = options.now ?? Date.now;
  }

  async get(needed: readonly SecretName[] = ALL_SECRETS): Promise<Secrets> {
    const entry = this.#entry !== undefined && this.#now() < this.#entry.expiresAt ? this.#entry : await this.#refresh();
    if (entry.error) throw entry.error;
    return entry.snapshot!.require(needed);
  }

  #fullName = (name: SecretName): string => parameterName(this.#path, name);

  /** One read at a time, however many requests are waiting for it. Never rejects. */
  #refresh(): Promise<Entry> {
    this.#reading ??= this.#readEntry().finally(() => {
      this.#reading = undefined;
    });
    return this.#reading;
  }

  async #readEntry(): Promise<Entry> {
    const previous = this.#entry?.snapshot;
    const retryAt = () => this.#now() + Math.min(this.#maxAgeMs, RETRY_AFTER_FAILURE_MS);
    try {
      this.#entry = { snapshot: await this.#readSnapshot(), expiresAt: this.#now() + this.#maxAgeMs };
    } catch (error) {
      if (error instanceof ConfigError) {
        // A bad value is as final as a missing one: no stale fallback, or the fault would hide until the next cold start.
        this.#logger.error('a secret has an invalid value', { error });
        this.#entry = { error: new SecretsUnavailableError(error.message, { cause: error }), expiresAt: this.#now() + this.#maxAgeMs };
      } else if (previous) {
        this.#logger.warn('could not read the secrets again; the last values read stay in use', { error, path: this.#path });
        this.#entry = { snapshot: previous, expiresAt: retryAt() };
      } else {
        this.#logger.error('could not read the secrets', { error, path: this.#path });
        this.#entry = {
          error: new SecretsUnavailableError(`could not read the secrets under ${this.#path}`, { cause: error }),
          expiresAt: retryAt(),
        };
      }
    }
    return this.#entry;
  }

  async #readSnapshot(): Promise<SecretsSnapshot> {
    const found = await this.#read(ALL_SECRETS.map(this.#fullName), this.#maxAgeSeconds);
    const byVariable: Record<string, string> = {};
    for (const name of ALL_SECRETS) {
      const value = found[this.#fullName(name)];
      if (value !== undefined) byVariable[name] = value;
    }
    const missing = new Set(SECRET_PARAMETERS.filter((p) => p.required && !(p.name in byVariable)).map((p) => p.name));
    const values = secretValues(byVariable, (variable) => this.#fullName(variable as SecretName));
    const snapshot = new SecretsSnapshot(values, missing, this.#fullName);
    if (missing.size > 0) {
      this.#logger.error(MISSING_SECRETS_MESSAGE, { missing: snapshot.missingNames() });
    }
    return snapshot;
  }
}
