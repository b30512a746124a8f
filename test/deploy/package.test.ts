import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCommand } from '../support/processes';
import { FUNCTION_NAMES } from '../support/stage-params';

interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
}

/** What `npx serverless package` produces for a deploy, checked without an AWS account. */
describe('the deployable package', () => {
  const out = mkdtempSync(join(tmpdir(), 'gateway-package-'));
  const iamOut = mkdtempSync(join(tmpdir(), 'gateway-package-iam-'));
  afterAll(() => {
    rmSync(out, { recursive: true, force: true });
    rmSync(iamOut, { recursive: true, force: true });
  });

  it('can put the operator routes, and only those, behind AWS IAM', async () => {
    const result = await runCommand('npx', ['serverless', 'package', '--package', iamOut, '--param=opsAuth=iam'], {});
    expect(result.code, result.stderr + result.stdout).toBe(0);
    const template = JSON.parse(readFileSync(join(iamOut, 'cloudformation-template-update-stack.json'), 'utf8')) as {
      Resources: Record<string, Resource>;
    };
    const auth = Object.fromEntries(
      Object.values(template.Resources)
        .filter((r) => r.Type === 'AWS::ApiGatewayV2::Route')
        .map((r) => [r.Properties.RouteKey, r.Properties.AuthorizationType ?? 'NONE']),
    );
    expect(auth).toMatchObject({
      'GET /v1/ops/stats': 'AWS_IAM',
      'GET /v1/ops/dlq': 'AWS_IAM',
      'GET /v1/ops/events': 'AWS_IAM',
      'GET /v1/ops/audit': 'AWS_IAM',
      'GET /v1/ops/pauses': 'AWS_IAM',
      'POST /v1/ops/pauses': 'AWS_IAM',
      'POST /v1/ops/pauses/resume': 'AWS_IAM',
      'POST /v1/ops/dlq/replay': 'AWS_IAM',
      'POST /v1/ops/reroutes': 'AWS_IAM',
      'GET /v1/ops/reroutes/{requestId}': 'AWS_IAM',
      'POST /v1/events': 'NONE',
      // The console is a static page: its calls to the operator routes carry the credentials.
      'GET /ops': 'NONE',
    });
  });

  it('packages offline into a CloudFormation template with every function and route', async () => {
    const result = await runCommand('npx', ['serverless', 'package', '--package', out], {});
    expect(result.code, result.stderr + result.stdout).toBe(0);
    const template = JSON.parse(readFileSync(join(out, 'cloudformation-template-update-stack.json'), 'utf8')) as {
      Resources: Record<string, Resource>;
    };
    const resources = Object.values(template.Resources);
    const functions = resources.filter((r) => r.Type === 'AWS::Lambda::Function');
    expect(functions.map((f) => f.Properties.FunctionName).sort()).toEqual(
      FUNCTION_NAMES.map((name) => `courier-event-gateway-dev-${name}`).sort(),
    );
    for (const fn of functions) expect(fn.Properties.Runtime).toBe('nodejs22.x');
    const routes = resources.filter((r) => r.Type === 'AWS::ApiGatewayV2::Route').map((r) => r.Properties.RouteKey);
    expect(routes.sort()).toEqual([
      'GET /health',
      'GET /ops',
      'GET /ops/{asset}',
      'GET /ready',
      'GET /v1/events/{eventId}',
      'GET /v1/ops/audit',
      'GET /v1/ops/dlq',
      'GET /v1/ops/events',
      'GET /v1/ops/pauses',
      'GET /v1/ops/reroutes/{requestId}',
      'GET /v1/ops/stats',
      'POST /v1/events',
      'POST /v1/ops/dlq/replay',
      'POST /v1/ops/pauses',
      'POST /v1/ops/pauses/resume',
      'POST /v1/ops/reroutes',
      'POST /v1/sources/{source}/events',
    ]);
    for (const name of FUNCTION_NAMES) {
      expect(existsSync(join(out, `${name}.zip`)), `${name}.zip`).toBe(true);
    }
  });
});
