import { DeleteParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sampleEvent, signedHeaders } from '../../scripts/sample-event';
import { startAwsEmulator, type AwsEmulator } from '../../scripts/aws-emulator';
import { exitState, RUNNING, waitFor, type RunningProcess } from '../support/processes';
import { getStatus, isolatedEnv, postEvent, startOffline } from '../support/stack';
import { paramArgs, REQUIRED_CLOUD_PARAMS } from '../support/stage-params';

const SERVICE_PATH = '/courier-event-gateway';
const OPS_KEY = 'ssm-ops-key';
const STATUS_KEY = 'ssm-status-key';

/**
 * A cloud stage's Lambdas under the real emulator, reading their secrets from SSM Parameter Store
 * (the local AWS emulator) at run time: nothing secret is in their environment but decoys.
 */
describe('a cloud stage reading its secrets from SSM', () => {
  let emulator: AwsEmulator;
  let ssm: SSMClient;

  const put = (name: string, value: string) =>
    ssm.send(new PutParameterCommand({ Name: name, Value: value, Type: 'SecureString', Overwrite: true }));

  /** serverless offline for `stage`: the stage's SSM path, a 2 s max age, and decoy secrets in the environment. */
  const startStage = (stage: string) => {
    const env = {
      ...isolatedEnv(`ssm-${stage}`),
      ...emulator.env,
      // Decoys: with SECRETS_SOURCE=ssm none of these may be used. Unreachable stores, the dev secret.
      REDIS_URL: 'redis://127.0.0.1:1',
      MONGO_URL: 'mongodb://127.0.0.1:1/decoy',
      WEBHOOK_SECRETS: 'dev-secret-change-me',
      OPS_API_KEYS: 'decoy-ops-key',
      STATUS_API_KEYS: 'decoy-status-key',
      POWERTOOLS_LOG_LEVEL: 'INFO',
    };
    return startOffline(env, ['--stage', stage, ...paramArgs(REQUIRED_CLOUD_PARAMS), '--param=secretsMaxAgeSeconds=2']);
  };

  /** The parameters every stage needs but the signing secrets: the run's real stores, an operator key. */
  const putStores = async (path: string) => {
    await put(`${path}/OPS_API_KEYS`, OPS_KEY);
    await put(`${path}/REDIS_URL`, inject('redisUrl'));
    await put(`${path}/MONGO_URL`, inject('mongoUrl'));
  };

  beforeAll(async () => {
    emulator = await startAwsEmulator();
    ssm = new SSMClient({
      endpoint: emulator.endpoint,
      region: emulator.env.AWS_REGION,
      credentials: { accessKeyId: emulator.env.AWS_ACCESS_KEY_ID!, secretAccessKey: emulator.env.AWS_SECRET_ACCESS_KEY! },
    });
  });

  afterAll(async () => {
    ssm?.destroy();
    await emulator?.stop();
  });

  describe('with every parameter in place', () => {
    const path = `${SERVICE_PATH}/rehearsal`;
    const firstSecret = `ssm-secret-${Date.now()}`;
    const rotatedSecret = `${firstSecret}-rotated`;
    let offline: RunningProcess;
    let baseUrl: string;

    beforeAll(async () => {
      await putStores(path);
      await put(`${path}/WEBHOOK_SECRETS`, firstSecret);
      await put(`${path}/STATUS_API_KEYS`, STATUS_KEY);
      await ssm.send(new DeleteParameterCommand({ Name: `${path}/SOURCE_SECRETS` })).catch(() => undefined);
      ({ process: offline, baseUrl } = await startStage('rehearsal'));
    });

    afterAll(async () => offline?.stop());

    it('is ready: the secrets are read and the stores they name answer', async () => {
      // Polled as a load balancer would: a cold container's first Mongo connection and index build
      // on a fresh database can outlast the 1 s ping timeout.
      const response = await waitFor(
        '/ready to answer 200',
        async () => {
          const reply = await fetch(`${baseUrl}/ready`);
          return reply.status === 200 ? reply : undefined;
        },
        15_000,
        500,
      );
      expect(await response.json()).toEqual({ ready: true });
      const withKey = await fetch(`${baseUrl}/ready`, { headers: { 'x-api-key': OPS_KEY } });
      expect(await withKey.json()).toEqual({ ready: true, checks: { secrets: 'up', redis: 'up', mongo: 'up' }, paused: [] });
    });

    it('accepts an event signed with the secret in SSM, and refuses the dev secret of its environment', async () => {
      const accepted = await postEvent(baseUrl, sampleEvent(), firstSecret);
      expect(accepted.response.status).toBe(202);
      expect((await postEvent(baseUrl, sampleEvent(), 'dev-secret-change-me')).response.status).toBe(401);
    });

    it('keeps the status route closed, and opens it to the status and operator keys in SSM only', async () => {
      const accepted = await postEvent(baseUrl, sampleEvent(), firstSecret);
      expect(accepted.response.status).toBe(202);
      const acceptedId = accepted.event.eventId;
      expect((await getStatus(baseUrl, acceptedId, null)).status).toBe(401);
      expect((await getStatus(baseUrl, acceptedId, 'decoy-status-key')).status).toBe(401);
      expect((await getStatus(baseUrl, acceptedId, STATUS_KEY)).json).toMatchObject({ eventId: acceptedId, status: 'QUEUED' });
      expect((await getStatus(baseUrl, acceptedId, OPS_KEY)).status).toBe(200);
    });

    it('has no per-source route when the optional SOURCE_SECRETS parameter is absent', async () => {
      const body = JSON.stringify(sampleEvent({ source: 'dhl' }));
      const response = await fetch(`${baseUrl}/v1/sources/dhl/events`, { method: 'POST', headers: signedHeaders(firstSecret, body), body });
      expect(response.status).toBe(401);
    });

    it('takes a secret rotated in SSM within the max age, with no restart', async () => {
      const rotatedAt = Date.now();
      await put(`${path}/WEBHOOK_SECRETS`, rotatedSecret);
      await waitFor(
        'the rotated secret to be accepted',
        async () => ((await postEvent(baseUrl, sampleEvent(), rotatedSecret)).response.status === 202 ? true : undefined),
        20_000,
        250,
      );
      // The max age is 2 s; a little more for the read itself and the polling.
      expect(Date.now() - rotatedAt).toBeLessThan(10_000);
      try {
        expect((await postEvent(baseUrl, sampleEvent(), firstSecret)).response.status).toBe(401);
        expect(exitState(offline.child)).toEqual(RUNNING);
        expect(offline.output()).not.toContain(rotatedSecret);
      } finally {
        // Back to the first secret, which the other tests sign with, whatever their order.
        await put(`${path}/WEBHOOK_SECRETS`, firstSecret);
        await waitFor(
          'the first secret to be accepted again',
          async () => ((await postEvent(baseUrl, sampleEvent(), firstSecret)).response.status === 202 ? true : undefined),
          20_000,
          250,
        );
      }
    });

    it('never writes a secret read from SSM to its logs', async () => {
      // Uses each secret first, so the check does not pass for want of a request.
      const accepted = await postEvent(baseUrl, sampleEvent(), firstSecret);
      expect(accepted.response.status).toBe(202);
      expect((await getStatus(baseUrl, accepted.event.eventId, STATUS_KEY)).status).toBe(200);
      expect((await getStatus(baseUrl, accepted.event.eventId, OPS_KEY)).status).toBe(200);
      const logs = offline.output();
      for (const secret of [firstSecret, OPS_KEY, STATUS_KEY]) expect(logs).not.toContain(secret);
    });
  });

  describe('with WEBHOOK_SECRETS missing', () => {
    const stage = 'incomplete';
    const path = `${SERVICE_PATH}/${stage}`;
    let offline: RunningProcess;
    let baseUrl: string;

    beforeAll(async () => {
      await putStores(path);
      ({ process: offline, baseUrl } = await startStage(stage));
    });

    afterAll(async () => offline?.stop());

    it('reports not ready to anyone, and names the missing parameter in full to an operator key only', async () => {
      for (const key of [null, 'decoy-ops-key', STATUS_KEY]) {
        const response = await fetch(`${baseUrl}/ready`, { headers: key ? { 'x-api-key': key } : {} });
        expect(response.status).toBe(503);
        const text = await response.text();
        expect(JSON.parse(text)).toEqual({ ready: false });
        expect(text).not.toContain(SERVICE_PATH);
      }
      const response = await fetch(`${baseUrl}/ready`, { headers: { 'x-api-key': OPS_KEY } });
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({
        ready: false,
        checks: { secrets: `missing ${path}/WEBHOOK_SECRETS`, redis: 'up', mongo: 'up' },
        paused: [],
      });
    });

    it('answers a signed event 503, never 202, and logs an ERROR naming the parameter', async () => {
      for (const secret of ['dev-secret-change-me', 'any-secret']) {
        const { response, json } = await postEvent(baseUrl, sampleEvent(), secret);
        expect(response.status).toBe(503);
        expect(json).toMatchObject({ error: { code: 'SECRET_MISSING' } });
      }
      const errors = offline
        .output()
        .split('\n')
        .filter((line) => line.includes('"level":"ERROR"') && line.includes(`${path}/WEBHOOK_SECRETS`));
      expect(errors.length).toBeGreaterThan(0);
    });

    it('still serves the routes that do not need the signing secrets', async () => {
      expect((await getStatus(baseUrl, 'no-such-event', OPS_KEY)).status).toBe(404);
      expect((await getStatus(baseUrl, 'no-such-event', null)).status).toBe(401);
    });
  });
});
