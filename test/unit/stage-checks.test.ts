import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';

interface StageChecksPlugin {
  hooks: Record<string, () => unknown>;
  invalidParameterNames: (names: string[]) => Promise<string[]>;
}
// The plugin is plain JavaScript, loaded by the framework with require.
const StageChecks = createRequire(import.meta.url)('../../deploy/stage-checks') as new (serverless: unknown) => StageChecksPlugin;

class FrameworkError extends Error {}

/**
 * The plugin with the framework around it, and SSM replaced by `invalid` (which names it calls
 * for, which come back missing): the SSM call itself runs in the rehearsal deploy
 * (test/deploy/rehearsal.test.ts) against the AWS emulator.
 */
function plugin(stageChecks: unknown, invalid: (names: string[]) => string[] = () => [], commands = ['package']) {
  const lookups: string[][] = [];
  const serverless = {
    classes: { Error: FrameworkError },
    processedInput: { commands },
    service: { provider: { stage: 'prod' }, custom: { stageChecks } },
  };
  const instance = new StageChecks(serverless);
  instance.invalidParameterNames = (names) => {
    lookups.push(names);
    return Promise.resolve(invalid(names));
  };
  return { hooks: instance.hooks, lookups };
}

const cloudChecks = {
  requiredParams: { vpcSubnetIds: 'subnet-1', workerImage: '', alarmTopicArn: 'arn:topic' },
  paramHelp: { workerImage: 'the worker image URI' },
  secretsPath: '/courier-event-gateway/prod',
  requiredSecrets: ['WEBHOOK_SECRETS', 'REDIS_URL'],
  requiredSecretsWhen: { ROUTING_AUTH_HEADER: 'false' },
};
const complete = { ...cloudChecks, requiredParams: { workerImage: 'img' } };

describe('the stage-checks plugin', () => {
  it('stops packaging a cloud stage whose required parameter is empty, naming it and what it is for', async () => {
    const { hooks } = plugin(cloudChecks);
    await expect(hooks['before:package:initialize']!()).rejects.toThrow(FrameworkError);
    await expect(hooks['before:package:initialize']!()).rejects.toThrow(
      /missing required parameter\(s\): workerImage\n.*--param="workerImage=\.\.\."\s+the worker image URI/,
    );
  });

  it('lets a stage with every parameter, and the dev stage (no checks), through', async () => {
    await expect(plugin(complete).hooks['before:package:initialize']!()).resolves.toBeUndefined();
    await expect(plugin(undefined).hooks['before:package:initialize']!()).resolves.toBeUndefined();
  });

  it('stops a deploy whose secrets are missing from SSM, naming each', async () => {
    const { hooks, lookups } = plugin(complete, (names) => names.filter((n) => n.endsWith('REDIS_URL')));
    await expect(hooks['before:deploy:deploy']!()).rejects.toThrow(
      'missing secret parameter(s) in SSM: /courier-event-gateway/prod/REDIS_URL',
    );
    expect(lookups).toEqual([['/courier-event-gateway/prod/WEBHOOK_SECRETS', '/courier-event-gateway/prod/REDIS_URL']]);
  });

  it('asks for the routing credential only when the stage sends one', async () => {
    const { hooks, lookups } = plugin({ ...complete, requiredSecretsWhen: { ROUTING_AUTH_HEADER: 'true' } }, (names) =>
      names.filter((n) => n.endsWith('ROUTING_AUTH_HEADER')),
    );
    await expect(hooks['before:deploy:deploy']!()).rejects.toThrow(
      'missing secret parameter(s) in SSM: /courier-event-gateway/prod/ROUTING_AUTH_HEADER',
    );
    expect(lookups[0]).toContain('/courier-event-gateway/prod/ROUTING_AUTH_HEADER');
  });

  it('checks the secrets of a deploy before the package is built, and once per command', async () => {
    const { hooks, lookups } = plugin(complete, (names) => names.slice(0, 1), ['deploy']);
    await expect(hooks['before:package:initialize']!()).rejects.toThrow('missing secret parameter(s) in SSM');
    await expect(hooks['before:deploy:deploy']!()).rejects.toThrow('missing secret parameter(s) in SSM');
    expect(lookups).toHaveLength(1);
  });

  it('does not look secrets up when it only packages', async () => {
    const { hooks, lookups } = plugin(complete, (names) => names);
    await expect(hooks['before:package:initialize']!()).resolves.toBeUndefined();
    expect(lookups).toEqual([]);
  });

  it('lets a deploy through when every secret exists', async () => {
    await expect(plugin(complete, () => [], ['deploy']).hooks['before:deploy:deploy']!()).resolves.toBeUndefined();
  });
});
