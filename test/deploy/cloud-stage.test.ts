import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CFN_LINT, DEPLOY_TOOLS_HINT } from '../../scripts/aws-emulator';
import { runCommand } from '../support/processes';
import { paramArgs, REQUIRED_CLOUD_PARAMS } from '../support/stage-params';

interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
  Condition?: string;
}
interface Template {
  Resources: Record<string, Resource>;
  Outputs?: Record<string, unknown>;
}

/** Names of every secret a cloud stage reads from SSM; none may appear in its template. */
const SECRET_VARIABLES = ['WEBHOOK_SECRETS', 'SOURCE_SECRETS', 'OPS_API_KEYS', 'STATUS_API_KEYS', 'REDIS_URL', 'MONGO_URL'];

/** `serverless package --stage prod`, as a user deploying to AWS runs it, with no AWS account. */
describe('a cloud stage (prod) package', () => {
  const out = mkdtempSync(join(tmpdir(), 'gateway-package-prod-'));
  let template: Template;
  let text: string;
  const ofType = (type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type);

  beforeAll(async () => {
    const result = await runCommand(
      'npx',
      ['serverless', 'package', '--stage', 'prod', '--package', out, ...paramArgs(REQUIRED_CLOUD_PARAMS)],
      {},
    );
    expect(result.code, result.stderr + result.stdout).toBe(0);
    text = readFileSync(join(out, 'cloudformation-template-update-stack.json'), 'utf8');
    template = JSON.parse(text) as Template;
  }, 240_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('passes cfn-lint with zero errors', () => {
    if (!existsSync(CFN_LINT)) throw new Error(DEPLOY_TOOLS_HINT);
    const lint = spawnSync(CFN_LINT, ['--format', 'json', '--', join(out, 'cloudformation-template-update-stack.json')], {
      encoding: 'utf8',
    });
    const findings = JSON.parse(lint.stdout || '[]') as Array<{ Level: string; Rule: { Id: string }; Message: string }>;
    const errors = findings.filter((f) => f.Level === 'Error');
    expect(errors.map((e) => `${e.Rule.Id} ${e.Message}`)).toEqual([]);
    // Exit code bit 2 is cfn-lint's "errors found"; 1 would be a crash of the linter itself.
    expect(lint.status! & 3, lint.stderr).toBe(0);
  });

  it('holds no localhost URL, no store URL, no secret value and no default secret', () => {
    // The worker's health check probes its own container on the loopback: the one allowed use.
    const withoutHealthCheck = JSON.stringify(template, (key, value: unknown) => (key === 'HealthCheck' ? undefined : value));
    expect(withoutHealthCheck).not.toMatch(/localhost|127\.0\.0\.1/);
    expect(text).not.toMatch(/redis:\/\/|rediss:\/\/|mongodb(\+srv)?:\/\//);
    expect(text).not.toContain('dev-secret-change-me');
    expect(text).not.toContain('--enable-source-maps');
    for (const [name, fn] of ofType('AWS::Lambda::Function')) {
      const variables = (fn.Properties.Environment as { Variables: Record<string, string> }).Variables;
      for (const secret of SECRET_VARIABLES) expect(variables, `${name} ${secret}`).not.toHaveProperty(secret);
      expect(variables).toMatchObject({ SECRETS_SOURCE: 'ssm', SECRETS_PATH: '/courier-event-gateway/prod', STATUS_ROUTE_OPEN: 'false' });
    }
  });

  it('lets the functions read exactly the stage parameters, and puts them in the VPC', () => {
    const role = template.Resources.IamRoleLambdaExecution!;
    const statements = (
      role.Properties.Policies as Array<{ PolicyDocument: { Statement: Array<{ Action: string[]; Resource: unknown[] }> } }>
    )[0]!.PolicyDocument.Statement.filter((s) => s.Action.some((a) => a.startsWith('ssm:')));
    expect(statements).toHaveLength(1);
    const arns = statements[0]!.Resource.map((r) => (r as { 'Fn::Sub': string })['Fn::Sub']);
    expect(arns.map((arn) => arn.split(':parameter')[1]).sort()).toEqual(
      SECRET_VARIABLES.map((name) => `/courier-event-gateway/prod/${name}`).sort(),
    );
    for (const [name, fn] of ofType('AWS::Lambda::Function')) {
      expect(fn.Properties.VpcConfig, name).toEqual({
        SubnetIds: { 'Fn::Split': [',', REQUIRED_CLOUD_PARAMS.vpcSubnetIds] },
        SecurityGroupIds: { 'Fn::Split': [',', REQUIRED_CLOUD_PARAMS.vpcSecurityGroupIds] },
      });
    }
  });

  it('runs the worker on Fargate with its secrets injected from SSM and scales it on backlog', () => {
    const [, task] = ofType('AWS::ECS::TaskDefinition')[0]!;
    const container = (task.Properties.ContainerDefinitions as Array<Record<string, unknown>>)[0]!;
    expect(container.Image).toBe(REQUIRED_CLOUD_PARAMS.workerImage);
    expect((container.Secrets as Array<{ Name: string }>).map((s) => s.Name).sort()).toEqual(['MONGO_URL', 'REDIS_URL']);
    expect(container.Environment).not.toContainEqual(expect.objectContaining({ Name: 'REDIS_URL' }));
    // The routing service is a stage parameter; left out, the worker runs the simulator.
    expect(container.Environment).toContainEqual({ Name: 'ROUTING_URL', Value: '' });
    expect(task.Properties.RequiresCompatibilities).toEqual(['FARGATE']);
    expect(ofType('AWS::ECS::Service')).toHaveLength(1);
    const [, policy] = ofType('AWS::ApplicationAutoScaling::ScalingPolicy')[0]!;
    expect(JSON.stringify(policy.Properties)).toContain('"MetricName":"Backlog"');
  });

  it('throttles the HTTP API, reserves ingest concurrency and alarms to the SNS topic', () => {
    const stage = template.Resources.HttpApiStage!;
    expect(stage.Properties.DefaultRouteSettings).toEqual({ ThrottlingBurstLimit: 1000, ThrottlingRateLimit: 500 });
    expect(template.Resources.IngestLambdaFunction!.Properties.ReservedConcurrentExecutions).toBe(100);
    const alarms = ofType('AWS::CloudWatch::Alarm');
    const metrics = alarms.map(([, a]) => `${String(a.Properties.Namespace)}/${String(a.Properties.MetricName)}`).sort();
    expect(metrics).toEqual(
      expect.arrayContaining([
        'AWS/ApiGateway/5xx',
        'AWS/Lambda/Errors',
        'AWS/Lambda/Throttles',
        'CourierEventGateway/DeadLettersPending',
        'CourierEventGateway/OldestWaitingAgeSeconds',
        'CourierEventGateway/Replies',
      ]),
    );
    for (const [name, alarm] of alarms) expect(alarm.Properties.AlarmActions, name).toEqual([REQUIRED_CLOUD_PARAMS.alarmTopicArn]);
  });

  it('ships minified bundles without source maps', () => {
    const zips = readdirSync(out).filter((file) => file.endsWith('.zip'));
    expect(zips).toHaveLength(9);
    for (const zip of zips) {
      const listing = spawnSync('unzip', ['-Z1', join(out, zip)], { encoding: 'utf8' })
        .stdout.trim()
        .split('\n');
      expect(
        listing.filter((entry) => entry.endsWith('.map')),
        zip,
      ).toEqual([]);
    }
  });

  it.each(Object.keys(REQUIRED_CLOUD_PARAMS))('refuses to package without the %s parameter, naming it', async (missing) => {
    const params = Object.fromEntries(Object.entries(REQUIRED_CLOUD_PARAMS).filter(([name]) => name !== missing));
    const dir = mkdtempSync(join(tmpdir(), 'gateway-package-missing-'));
    try {
      const result = await runCommand('npx', ['serverless', 'package', '--stage', 'prod', '--package', dir, ...paramArgs(params)], {});
      expect(result.code).not.toBe(0);
      expect(result.stdout + result.stderr).toContain(`missing required parameter(s): ${missing}`);
      expect(result.stdout + result.stderr).toContain(`--param="${missing}=..."`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to start a cloud stage under serverless offline without a required parameter, naming it', async () => {
    const params = Object.fromEntries(Object.entries(REQUIRED_CLOUD_PARAMS).filter(([name]) => name !== 'workerImage'));
    const result = await runCommand(
      'npx',
      ['serverless', 'offline', 'start', '--stage', 'prod', '--httpPort', '0', ...paramArgs(params)],
      {},
      60_000,
    );
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toContain('missing required parameter(s): workerImage');
  });
});
