import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { environmentVariables } from '../../lib/config';

/**
 * The config schema writes each default once; serverless.yml (with the stage's deploy/<kind>.yml)
 * and .env.example repeat them for people and tools that never run the schema. These tests hold
 * the copies to the schema's values, and name every place that differs on purpose.
 */

type Values = Record<string, string | undefined>;

interface Deviation {
  value: string;
  why: string;
}

const DEV_SECRET: Deviation = {
  value: 'dev-secret-change-me',
  why: 'a signing secret that works out of the box in dev; the schema has none, so nothing else accepts it',
};
const STATUS_OPEN_IN_DEV: Deviation = {
  value: 'true',
  why: 'the dev stage opens the status route, so curl works without a key; closed unless asked for',
};

const READY_OPEN_IN_DEV: Deviation = {
  value: 'true',
  why: 'the dev stage shows what /ready found to anyone; a cloud stage to operator keys only',
};

/** Where a file's value differs from the schema's default on purpose. */
const DEVIATIONS: Record<'dev' | 'cloud' | 'envExample', Record<string, Deviation>> = {
  dev: { WEBHOOK_SECRETS: DEV_SECRET, STATUS_ROUTE_OPEN: STATUS_OPEN_IN_DEV, READY_DETAILS_OPEN: READY_OPEN_IN_DEV },
  cloud: {
    SECRETS_SOURCE: { value: 'ssm', why: 'cloud Lambdas read their secrets from SSM at run time' },
    QUEUE_PREFIX: {
      value: '{gateway}',
      why: 'the queuePrefix stage parameter is a hash tag, so a stage can move to Redis Cluster without renaming its keys',
    },
  },
  // .env.example is what dev runs and docker compose read: it carries the dev stage's values.
  envExample: { WEBHOOK_SECRETS: DEV_SECRET, STATUS_ROUTE_OPEN: STATUS_OPEN_IN_DEV, READY_DETAILS_OPEN: READY_OPEN_IN_DEV },
};

/** The variables the schema gives a default, with that default as parsed. */
const defaulted = Object.entries(environmentVariables).flatMap(([name, schema]) => {
  const fallback = schema.safeParse(undefined);
  return fallback.success ? [{ name, schema, fallback: fallback.data }] : [];
});

/** Variables whose value, parsed, is not the schema's default and not a listed deviation. */
function disagreements(values: Values, deviations: Record<string, Deviation>, requireEvery: boolean): string[] {
  return defaulted.flatMap(({ name, schema, fallback }) => {
    const value = values[name];
    if (value === undefined) return requireEvery ? [`${name} is missing`] : [];
    const deviation = deviations[name];
    if (deviation) return value === deviation.value ? [] : [`${name}=${value}, listed as deviating with ${deviation.value}`];
    const parsed = schema.safeParse(value);
    if (parsed.success && JSON.stringify(parsed.data) === JSON.stringify(fallback)) return [];
    return [`${name}=${value}, the schema's default is ${JSON.stringify(fallback)}`];
  });
}

function readYaml<T>(path: string): T {
  return parse(readFileSync(path, 'utf8'), { logLevel: 'silent' }) as T;
}

const serverless = readYaml<{
  provider: { environment: Record<string, unknown> };
  params: Record<string, Record<string, unknown>>;
}>('serverless.yml');

/**
 * The defaulted variables of the Lambdas' environment in a stage, with no variables set: each
 * `${env:NAME, fallback}` takes its fallback, `${param:...}` the stage's parameter (params.<stage>
 * over params.default), `${file(...)}` the stage kind's file. Another form fails the test.
 */
function lambdaEnvironment(stage: string): Values {
  const params = { ...serverless.params['default'], ...serverless.params[stage] };
  const stageFile = readYaml<{ environment: Record<string, unknown> }>(`deploy/${String(params['stageKind'])}.yml`);
  const param = (name: string): string => {
    if (!(name in params)) throw new Error(`no stage parameter ${name}`);
    return String(params[name]);
  };
  const resolve = (value: unknown): string | undefined => {
    if (value === null || value === undefined) return undefined;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    if (typeof value !== 'string') return JSON.stringify(value);
    let match = /^\$\{file\(\.\/deploy\/\$\{param:stageKind\}\.yml\):environment\.(\w+)(, null)?\}$/.exec(value);
    if (match) return resolve(stageFile.environment[match[1]!]);
    match = /^\$\{env:\w+, (?:'(.*)'|param:(\w+))\}$/.exec(value);
    if (match) return match[1] ?? param(match[2]!);
    match = /^\$\{param:(\w+)\}$/.exec(value);
    if (match) return param(match[1]!);
    if (!value.includes('${')) return value;
    throw new Error(`the test does not resolve ${value}`);
  };
  const environment = serverless.provider.environment;
  return Object.fromEntries(defaulted.filter(({ name }) => name in environment).map(({ name }) => [name, resolve(environment[name])]));
}

function envExample(): Values {
  const lines = readFileSync('.env.example', 'utf8').matchAll(/^([A-Z][A-Z0-9_]*)=(.*)$/gm);
  return Object.fromEntries([...lines].map((m) => [m[1]!, m[2]!]));
}

describe('the defaults in serverless.yml and .env.example', () => {
  it('come from a schema that defaults most variables', () => {
    expect(defaulted.length).toBeGreaterThan(30);
  });

  it('are the schema defaults in the dev stage, but for the dev-only values', () => {
    expect(disagreements(lambdaEnvironment('dev'), DEVIATIONS.dev, false)).toEqual([]);
  });

  it('are the schema defaults in a cloud stage, but for SSM secrets and a hash-tag prefix', () => {
    expect(disagreements(lambdaEnvironment('prod'), DEVIATIONS.cloud, false)).toEqual([]);
  });

  it('are in .env.example, every one, with the dev stage values', () => {
    expect(disagreements(envExample(), DEVIATIONS.envExample, true)).toEqual([]);
  });
});
