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
