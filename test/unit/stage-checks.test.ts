import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
// The plugin is plain JavaScript, loaded by the framework with require.
const StageChecks = createRequire(import.meta.url)('../../deploy/stage-checks') as new (serverless: unknown) => {
  hooks: Record<string, () => unknown>;
};

class FrameworkError extends Error {}

function plugin(stageChecks: unknown, getParameters: (names: string[]) => { InvalidParameters?: string[] } = () => ({})) {
  const requests: Array<{ service: string; method: string; params: { Names: string[]; WithDecryption: boolean } }> = [];
  const serverless = {
    classes: { Error: FrameworkError },
    service: { provider: { stage: 'prod' }, custom: { stageChecks } },
    getProvider: () => ({
      request: async (service: string, method: string, params: { Names: string[]; WithDecryption: boolean }) => {
        requests.push({ service, method, params });
        return getParameters(params.Names);
      },
    }),
  };
  return { hooks: new StageChecks(serverless).hooks, requests };
}

const cloudChecks = {
  requiredParams: { vpcSubnetIds: 'subnet-1', workerImage: '', alarmTopicArn: 'arn:topic' },
  paramHelp: { workerImage: 'the worker image URI' },
  secretsPath: '/courier-event-gateway/prod',
  requiredSecrets: ['WEBHOOK_SECRETS', 'REDIS_URL'],
};

describe('the stage-checks plugin', () => {
  it('stops packaging a cloud stage whose required parameter is empty, naming it and what it is for', () => {
    const { hooks } = plugin(cloudChecks);
    expect(() => hooks['before:package:initialize']!()).toThrow(FrameworkError);
    expect(() => hooks['before:package:initialize']!()).toThrow(
      /missing required parameter\(s\): workerImage\n.*--param="workerImage=\.\.\."\s+the worker image URI/,
    );
  });

  it('lets a stage with every parameter, and the dev stage (no checks), through', () => {
    expect(plugin({ ...cloudChecks, requiredParams: { workerImage: 'img' } }).hooks['before:package:initialize']!()).toBeUndefined();
    expect(plugin(undefined).hooks['before:package:initialize']!()).toBeUndefined();
  });

  it('stops a deploy whose secrets are missing from SSM, naming each, without reading any value', async () => {
    const { hooks, requests } = plugin(cloudChecks, (names) => ({ InvalidParameters: names.filter((n) => n.endsWith('REDIS_URL')) }));
    await expect(hooks['before:deploy:deploy']!()).rejects.toThrow(
      'missing secret parameter(s) in SSM: /courier-event-gateway/prod/REDIS_URL',
    );
    expect(requests).toEqual([
      {
        service: 'SSM',
        method: 'getParameters',
        params: { Names: ['/courier-event-gateway/prod/WEBHOOK_SECRETS', '/courier-event-gateway/prod/REDIS_URL'], WithDecryption: false },
      },
    ]);
  });

  it('lets a deploy through when every secret exists', async () => {
    await expect(plugin(cloudChecks).hooks['before:deploy:deploy']!()).resolves.toBeUndefined();
  });
});
