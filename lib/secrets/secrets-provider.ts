import type { Logger } from '@aws-lambda-powertools/logger';
import type { SecretValues } from '../config';
import { MissingSecretError } from '../errors';
import { ALL_SECRETS, type SecretName } from './secret-parameters';

/** Logged at ERROR, with the full names, whenever a read finds required secrets absent. */
export const MISSING_SECRETS_MESSAGE = 'required secrets are missing: the requests that need them are refused with 503';

/** The gateway's secrets, parsed: signing secrets, API keys, and the URLs that carry credentials. */
export type Secrets = SecretValues;

/**
 * Where the handlers get their secrets, per request. Implementations keep them in memory, so a
 * call costs no I/O until the values are older than their max age.
 */
export interface SecretsProvider {
  /**
   * The secrets as they are now. Throws {@link MissingSecretError} naming every secret of
   * `needed` that does not exist (a route asks only for what it uses, so a missing signing
   * secret does not also close the operator routes), and `SecretsUnavailableError` when they
   * cannot be read at all.
   *
   * @example
   * const { webhookSecrets } = await secrets.get(['WEBHOOK_SECRETS']);
   */
  get(needed?: readonly SecretName[]): Promise<Secrets>;
}

/** One read of the secrets: the values, and which required ones were absent. */
export class SecretsSnapshot {
  constructor(
    readonly secrets: Secrets,
    /** Required secrets that were absent; their fields in `secrets` hold placeholders. */
    readonly missing: ReadonlySet<SecretName>,
    /** The full name of a secret, for messages: its parameter name, or its variable name. */
    readonly fullName: (name: SecretName) => string,
  ) {}

  /** The secrets, or a {@link MissingSecretError} naming those of `needed` that are absent. */
  require(needed: readonly SecretName[]): Secrets {
    if (this.missing.size > 0) {
      const absent = needed.filter((name) => this.missing.has(name));
      if (absent.length > 0) throw new MissingSecretError(absent.map(this.fullName));
    }
    return this.secrets;
  }

  /** Full names of every required secret that is absent. */
  missingNames(): string[] {
    return [...this.missing].map(this.fullName);
  }
}

/**
 * SECRETS_SOURCE=env: the variables, parsed once (dev, docker compose, native runs, tests). As
 * before secrets moved to SSM, only WEBHOOK_SECRETS must be set; the others have defaults.
 */
export class EnvSecretsProvider implements SecretsProvider {
  readonly snapshot: SecretsSnapshot;

  constructor(values: SecretValues, logger?: Logger) {
    const missing = new Set<SecretName>(values.webhookSecrets.length === 0 ? ['WEBHOOK_SECRETS'] : []);
    this.snapshot = new SecretsSnapshot(values, missing, (name) => name);
    if (missing.size > 0) logger?.error(MISSING_SECRETS_MESSAGE, { missing: this.snapshot.missingNames() });
  }

  get(needed: readonly SecretName[] = ALL_SECRETS): Promise<Secrets> {
    // A missing secret rejects, as from any provider; it never throws synchronously.
    return Promise.resolve().then(() => this.snapshot.require(needed));
  }
}
