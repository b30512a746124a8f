import { secretsSourceConfig, secretValues } from '../config';
import { createLogger } from '../logger';
import { EnvSecretsProvider, type SecretsProvider } from './secrets-provider';
import { SsmSecretsProvider } from './ssm-secrets-provider';

let provider: SecretsProvider | undefined;

/**
 * The secrets provider of this Lambda container (or process), made on first use from
 * SECRETS_SOURCE: the environment, or SSM under SECRETS_PATH. Its cache lives as long as the
 * container, so warm invocations read no parameter until the max age has passed. A bad
 * SECRETS_* setting, or (env) a bad secret value, throws a ConfigError here, at cold start.
 */
export function sharedSecrets(): SecretsProvider {
  if (!provider) {
    const source = secretsSourceConfig();
    const logger = createLogger('secrets');
    provider =
      source.source === 'ssm'
        ? new SsmSecretsProvider({ path: source.path, maxAgeSeconds: source.maxAgeSeconds, logger })
        : new EnvSecretsProvider(secretValues(), logger);
  }
  return provider;
}

/**
 * The keys the operator routes accept, read through `secrets` on every request (cached; a
 * rotated key applies within the max age).
 *
 * @example
 * handler.use(requireApiKey({ keys: operatorKeys(sharedSecrets()) }));
 */
export function operatorKeys(secrets: SecretsProvider): () => Promise<readonly string[]> {
  return async () => (await secrets.get(['OPS_API_KEYS'])).opsApiKeys;
}

/** The keys the status route accepts: the operators' and the read-only status keys. */
export function statusRouteKeys(secrets: SecretsProvider): () => Promise<readonly string[]> {
  return async () => {
    const { opsApiKeys, statusApiKeys } = await secrets.get(['OPS_API_KEYS', 'STATUS_API_KEYS']);
    return [...opsApiKeys, ...statusApiKeys];
  };
}
