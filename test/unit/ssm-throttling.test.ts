import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSsmParameters } from '../../lib/secrets/ssm-secrets-provider';

/**
 * Parameter Store throttles an account past 40 GetParameters a second, as a burst of cold starts
 * asks. The AWS emulator never throttles, so a local endpoint stands in for SSM here: it answers
 * the first calls with SSM's throttling error, then with the parameters, and the real client
 * (Powertools' SSM provider with the gateway's settings, through AWS_ENDPOINT_URL) must get through.
 */
describe('reading the secrets while SSM throttles', () => {
  let server: Server;
  let throttleNext = 0;
  const callTimes: number[] = [];
  const saved = { ...process.env };

  beforeAll(async () => {
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        callTimes.push(Date.now());
        if (throttleNext > 0) {
          throttleNext -= 1;
          response.writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': 'ThrottlingException' });
          response.end(JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' }));
          return;
        }
        const { Names } = JSON.parse(body) as { Names: string[] };
        response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        response.end(
          JSON.stringify({
            Parameters: Names.map((Name) => ({ Name, Type: 'SecureString', Value: `value of ${Name}`, Version: 1 })),
            InvalidParameters: [],
          }),
        );
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    });
  });

  afterAll(() => {
    process.env = saved;
    server?.close();
  });

  it('retries a throttled read with growing, jittered delays until it gets the parameters', async () => {
    throttleNext = 3;
    const values = await readSsmParameters(['/courier-event-gateway/prod/WEBHOOK_SECRETS'], 60);
    expect(values).toEqual({ '/courier-event-gateway/prod/WEBHOOK_SECRETS': 'value of /courier-event-gateway/prod/WEBHOOK_SECRETS' });
    expect(callTimes).toHaveLength(4);
    const gaps = callTimes.slice(1).map((at, i) => at - callTimes[i]!);
    console.info(`retry gaps after throttling: ${gaps.join(', ')} ms`);
  });
});
