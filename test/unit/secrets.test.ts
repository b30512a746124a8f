import type { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it, vi } from 'vitest';
import { secretsSourceConfig, secretValues, statusConfig } from '../../lib/config';
import { ConfigError, MissingSecretError, SecretsUnavailableError } from '../../lib/errors';
import { checkReadiness } from '../../lib/health/readiness';
import { replyForError } from '../../lib/http/error-replies';
import { ALL_SECRETS, parameterName, SECRET_PARAMETERS } from '../../lib/secrets/secret-parameters';
import { EnvSecretsProvider } from '../../lib/secrets/secrets-provider';
import { SsmSecretsProvider, type ReadParameters } from '../../lib/secrets/ssm-secrets-provider';

const PATH = '/courier-event-gateway/prod';
const full = (name: string) => `${PATH}/${name}`;

const complete = (): Record<string, string> => ({
  [full('WEBHOOK_SECRETS')]: 'current,previous',
  [full('OPS_API_KEYS')]: 'ops-key',
  [full('REDIS_URL')]: 'rediss://:token@cache.example:6379',
  [full('MONGO_URL')]: 'mongodb+srv://gateway:pw@cluster.example/gateway',
  [full('SOURCE_SECRETS')]: 'dhl=dhl-secret|dhl-previous',
  [full('STATUS_API_KEYS')]: 'status-key',
});

function fakeLogger() {
  return { error: vi.fn(), warn: vi.fn(), info: vi.fn() } as unknown as Logger & {
    error: ReturnType<typeof vi.fn>;
    warn: ReturnType<typeof vi.fn>;
  };
}

/** An SSM provider over an in-memory parameter store and a clock the test moves. */
function ssmOver(store: Record<string, string>, maxAgeSeconds = 60) {
  const clock = { now: 1_000_000 };
  const logger = fakeLogger();
  const read = vi.fn<ReadParameters>(async (names) => {
    if (store.__unreachable) throw new Error('connect ETIMEDOUT');
    return Object.fromEntries(names.filter((name) => name in store).map((name) => [name, store[name]!]));
  });
  const provider = new SsmSecretsProvider({ path: PATH, maxAgeSeconds, logger, read, now: () => clock.now });
  return { provider, read, clock, logger };
}

describe('the secret parameters', () => {
  it('requires the signing secrets, the operator keys and both store URLs; source secrets and status keys are optional', () => {
    expect(SECRET_PARAMETERS.filter((p) => p.required).map((p) => p.name)).toEqual([
      'WEBHOOK_SECRETS',
      'OPS_API_KEYS',
      'REDIS_URL',
      'MONGO_URL',
    ]);
    expect(SECRET_PARAMETERS.filter((p) => !p.required).map((p) => p.name)).toEqual(['SOURCE_SECRETS', 'STATUS_API_KEYS']);
    expect(parameterName(PATH, 'WEBHOOK_SECRETS')).toBe('/courier-event-gateway/prod/WEBHOOK_SECRETS');
  });
});

describe('secrets configuration', () => {
  it('reads secrets from the environment unless told otherwise; from SSM with a 60 s max age by default', () => {
    expect(secretsSourceConfig({})).toEqual({ source: 'env' });
    expect(secretsSourceConfig({ SECRETS_SOURCE: 'ssm', SECRETS_PATH: PATH })).toEqual({ source: 'ssm', path: PATH, maxAgeSeconds: 60 });
    expect(secretsSourceConfig({ SECRETS_SOURCE: 'ssm', SECRETS_PATH: PATH, SECRETS_MAX_AGE_SECONDS: '2' })).toEqual({
      source: 'ssm',
      path: PATH,
      maxAgeSeconds: 2,
    });
  });

  it('fails naming SECRETS_PATH when SSM is the source and no path is given, or a bad one', () => {
    expect(() => secretsSourceConfig({ SECRETS_SOURCE: 'ssm' })).toThrow(ConfigError);
    expect(() => secretsSourceConfig({ SECRETS_SOURCE: 'ssm' })).toThrow(/SECRETS_PATH: required when SECRETS_SOURCE=ssm/);
    expect(() => secretsSourceConfig({ SECRETS_SOURCE: 'ssm', SECRETS_PATH: `${PATH}/` })).toThrow(/SECRETS_PATH/);
    expect(() => secretsSourceConfig({ SECRETS_SOURCE: 'ssm', SECRETS_PATH: PATH, SECRETS_MAX_AGE_SECONDS: '0' })).toThrow(
      /SECRETS_MAX_AGE_SECONDS/,
    );
    expect(() => secretsSourceConfig({ SECRETS_SOURCE: 'vault' })).toThrow(/SECRETS_SOURCE/);
  });

  it('ignores the SSM settings when the environment is the source', () => {
    // serverless offline passes a stage's null variables as the string "null".
    expect(secretsSourceConfig({ SECRETS_SOURCE: 'env', SECRETS_PATH: 'null', SECRETS_MAX_AGE_SECONDS: 'null' })).toEqual({
      source: 'env',
    });
  });

  it('keeps the status route closed unless STATUS_ROUTE_OPEN is exactly true', () => {
    expect(statusConfig({}).routeOpen).toBe(false);
    expect(statusConfig({ STATUS_ROUTE_OPEN: 'true' }).routeOpen).toBe(true);
    expect(statusConfig({ STATUS_ROUTE_OPEN: 'false' }).routeOpen).toBe(false);
    expect(() => statusConfig({ STATUS_ROUTE_OPEN: 'yes' })).toThrow(/STATUS_ROUTE_OPEN/);
  });

  it('parses parameter values like the variables, naming the parameter and never the value when one is bad', () => {
    const values = secretValues({ WEBHOOK_SECRETS: 'a, b', SOURCE_SECRETS: 'dhl=x|y', STATUS_API_KEYS: 's1,s2' }, full);
    expect(values).toMatchObject({
      webhookSecrets: ['a', 'b'],
      sourceSecrets: { dhl: ['x', 'y'] },
      statusApiKeys: ['s1', 's2'],
      opsApiKeys: [],
    });
    const bad = () => secretValues({ SOURCE_SECRETS: 'dhl=ok,a-pasted-secret-value' }, full);
    expect(bad).toThrow(`${PATH}/SOURCE_SECRETS: entry 2 is not source=secret[|secret]`);
    expect(bad).not.toThrow(/a-pasted-secret/);
    expect(() => secretValues({ REDIS_URL: 'not a url' }, full)).toThrow(`${PATH}/REDIS_URL`);
  });
});

describe('secrets from the environment', () => {
  it('serves the variables with no AWS call, and names WEBHOOK_SECRETS only to the routes that need it when it is empty', async () => {
    const logger = fakeLogger();
    const provider = new EnvSecretsProvider(secretValues({ OPS_API_KEYS: 'k' }), logger);
    expect((await provider.get(['OPS_API_KEYS'])).opsApiKeys).toEqual(['k']);
    await expect(provider.get(['WEBHOOK_SECRETS'])).rejects.toThrow(new MissingSecretError(['WEBHOOK_SECRETS']));
    expect(logger.error).toHaveBeenCalledWith(expect.stringContaining('missing'), { missing: ['WEBHOOK_SECRETS'] });
    expect((await new EnvSecretsProvider(secretValues({ WEBHOOK_SECRETS: 's' })).get()).redisUrl).toBe('redis://127.0.0.1:6379');
  });
});

describe('secrets from SSM', () => {
  it('reads every parameter in one call and serves them from memory until the max age', async () => {
    const { provider, read, clock } = ssmOver(complete());
    const secrets = await provider.get();
    expect(secrets).toEqual({
      webhookSecrets: ['current', 'previous'],
      sourceSecrets: { dhl: ['dhl-secret', 'dhl-previous'] },
      opsApiKeys: ['ops-key'],
      statusApiKeys: ['status-key'],
      redisUrl: 'rediss://:token@cache.example:6379',
      mongoUrl: 'mongodb+srv://gateway:pw@cluster.example/gateway',
    });
    expect(read).toHaveBeenCalledWith(ALL_SECRETS.map(full), 60);
    clock.now += 59_000;
    for (let i = 0; i < 100; i++) await provider.get(['WEBHOOK_SECRETS']);
    expect(read).toHaveBeenCalledTimes(1);
  });

  it('picks up a rotated secret once the max age has passed, with no restart', async () => {
    const store = complete();
    const { provider, clock } = ssmOver(store, 2);
    expect((await provider.get()).webhookSecrets).toEqual(['current', 'previous']);
    store[full('WEBHOOK_SECRETS')] = 'rotated';
    clock.now += 1000;
    expect((await provider.get()).webhookSecrets).toEqual(['current', 'previous']);
    clock.now += 1000;
    expect((await provider.get()).webhookSecrets).toEqual(['rotated']);
  });

  it('shares one read among the requests that arrive while it runs', async () => {
    const { provider, read } = ssmOver(complete());
    await Promise.all(Array.from({ length: 20 }, () => provider.get()));
    expect(read).toHaveBeenCalledTimes(1);
  });

  it('treats an absent optional parameter as empty, and reads it no more often than the others', async () => {
    const store = complete();
    delete store[full('SOURCE_SECRETS')];
    delete store[full('STATUS_API_KEYS')];
    const { provider, read } = ssmOver(store);
    expect(await provider.get()).toMatchObject({ sourceSecrets: {}, statusApiKeys: [] });
    await provider.get();
    expect(read).toHaveBeenCalledTimes(1);
  });

  it('refuses only the routes that need a missing required parameter, naming it in full, and logs it at ERROR once per read', async () => {
    const store = complete();
    delete store[full('WEBHOOK_SECRETS')];
    const { provider, logger, clock } = ssmOver(store);
    const error = await provider.get(['WEBHOOK_SECRETS']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MissingSecretError);
    expect((error as Error).message).toBe(`missing ${PATH}/WEBHOOK_SECRETS`);
    expect((await provider.get(['OPS_API_KEYS', 'REDIS_URL'])).opsApiKeys).toEqual(['ops-key']);
    await expect(provider.get()).rejects.toThrow(MissingSecretError);
    expect(logger.error).toHaveBeenCalledTimes(1);
    expect(logger.error).toHaveBeenCalledWith(expect.any(String), { missing: [`${PATH}/WEBHOOK_SECRETS`] });
    // Created later, it applies within the max age.
    store[full('WEBHOOK_SECRETS')] = 'late';
    clock.now += 60_000;
    expect((await provider.get(['WEBHOOK_SECRETS'])).webhookSecrets).toEqual(['late']);
  });

  it('keeps the last values when SSM cannot be reached, and tries again within seconds', async () => {
    const store = complete();
    const { provider, read, clock, logger } = ssmOver(store);
    await provider.get();
    store.__unreachable = 'yes';
    clock.now += 60_000;
    expect((await provider.get()).opsApiKeys).toEqual(['ops-key']);
    expect(logger.warn).toHaveBeenCalledTimes(1);
    delete store.__unreachable;
    store[full('OPS_API_KEYS')] = 'rotated';
    clock.now += 4_000;
    expect((await provider.get()).opsApiKeys).toEqual(['ops-key']);
    clock.now += 1_000;
    expect((await provider.get()).opsApiKeys).toEqual(['rotated']);
    expect(read).toHaveBeenCalledTimes(3);
  });

  it('refuses with SecretsUnavailableError when SSM cannot be reached on the first read', async () => {
    const { provider, logger } = ssmOver({ __unreachable: 'yes' });
    await expect(provider.get()).rejects.toThrow(SecretsUnavailableError);
    await expect(provider.get()).rejects.not.toThrow(MissingSecretError);
    expect(logger.error).toHaveBeenCalledTimes(1);
  });

  it('refuses every route when a value does not parse, naming the parameter, not the value', async () => {
    const store = { ...complete(), [full('SOURCE_SECRETS')]: 'no-equals-sign-secret' };
    const { provider } = ssmOver(store);
    const error = await provider.get(['OPS_API_KEYS']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretsUnavailableError);
    expect((error as Error).message).toContain(`${PATH}/SOURCE_SECRETS`);
    expect((error as Error).message).not.toContain('no-equals-sign-secret');
  });
});

describe('a gateway with a missing secret', () => {
  it('answers 503 with its own error code, never naming the parameter to the caller', () => {
    const reply = replyForError(new MissingSecretError([`${PATH}/WEBHOOK_SECRETS`]));
    expect(reply.statusCode).toBe(503);
    expect(JSON.parse(reply.body)).toMatchObject({ error: { code: 'SECRET_MISSING' } });
    expect(reply.body).not.toContain(PATH);
    expect(replyForError(new SecretsUnavailableError('x')).statusCode).toBe(503);
  });

  it('reports not ready, naming what is missing', async () => {
    const readiness = await checkReadiness({
      secrets: async () => {
        throw new MissingSecretError([`${PATH}/WEBHOOK_SECRETS`, `${PATH}/MONGO_URL`]);
      },
      redis: async () => ({ ping: async () => 'PONG' }) as never,
      db: async () => {
        throw new MissingSecretError([`${PATH}/MONGO_URL`]);
      },
    });
    expect(readiness).toEqual({
      ready: false,
      checks: { secrets: `missing ${PATH}/WEBHOOK_SECRETS, ${PATH}/MONGO_URL`, redis: 'up', mongo: 'down' },
    });
  });
});
