import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CFN_LINT, DEPLOY_TOOLS_HINT } from '../../scripts/aws-emulator';
import { runCommand } from '../support/processes';
import { FUNCTION_NAMES, paramArgs, REQUIRED_CLOUD_PARAMS } from '../support/stage-params';

interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
  Condition?: string;
}
interface Template {
  Resources: Record<string, Resource>;
  Parameters?: Record<string, { Default?: string }>;
  Outputs?: Record<string, unknown>;
}

/** Names of every secret a cloud stage reads from SSM; none may appear in its template. */
const SECRET_VARIABLES = ['WEBHOOK_SECRETS', 'SOURCE_SECRETS', 'OPS_API_KEYS', 'STATUS_API_KEYS', 'REDIS_URL', 'MONGO_URL'];

/** `serverless print --stage prod`: the configuration as the framework resolves it, with `env` exported. */
async function printProd(env: Record<string, string>, extra: string[] = []) {
  const args = ['serverless', 'print', '--stage', 'prod', '--format', 'json', ...paramArgs(REQUIRED_CLOUD_PARAMS), ...extra];
  const result = await runCommand('npx', args, env, 120_000);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout.slice(result.stdout.indexOf('{'))) as { provider: { environment: Record<string, string | null> } };
}

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

  it('passes cfn-lint with zero errors and zero warnings', () => {
    if (!existsSync(CFN_LINT)) throw new Error(DEPLOY_TOOLS_HINT);
    const lint = spawnSync(CFN_LINT, ['--format', 'json', '--', join(out, 'cloudformation-template-update-stack.json')], {
      encoding: 'utf8',
    });
    const findings = JSON.parse(lint.stdout || '[]') as Array<{ Level: string; Rule: { Id: string }; Message: string }>;
    // Warnings too: the AWS emulator's ValidateTemplate, which `serverless deploy` calls, refuses
    // a template with any finding (the framework's redundant DependsOn were W3005 warnings).
    expect(findings.map((f) => `${f.Level} ${f.Rule.Id} ${f.Message}`)).toEqual([]);
    expect(lint.status, lint.stderr).toBe(0);
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
    const secrets = container.Secrets as Array<{ Name?: string; 'Fn::If'?: [string, { Name: string }, unknown] }>;
    expect(secrets.map((s) => s.Name ?? `if ${s['Fn::If']![0]}: ${s['Fn::If']![1].Name}`).sort()).toEqual([
      'MONGO_URL',
      'REDIS_URL',
      'if RoutingAuth: ROUTING_AUTH_HEADER',
    ]);
    // The routing credential only when the stage asks for it (routingAuth=true, rehearsal.test.ts).
    expect(template.Parameters?.RoutingAuth).toMatchObject({ Default: 'false' });
    expect(container.Environment).not.toContainEqual(expect.objectContaining({ Name: 'REDIS_URL' }));
    // The routing service is a required stage parameter (`simulator` only on purpose).
    expect(container.Environment).toContainEqual({ Name: 'ROUTING_URL', Value: REQUIRED_CLOUD_PARAMS.routingUrl });
    expect(task.Properties.RequiresCompatibilities).toEqual(['FARGATE']);
    expect(ofType('AWS::ECS::Service')).toHaveLength(1);
    // Autoscaling owns the task count: a DesiredCount would be sent again, and reset it, on every deploy.
    expect(ofType('AWS::ECS::Service')[0]![1].Properties).not.toHaveProperty('DesiredCount');
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
    expect(zips).toHaveLength(FUNCTION_NAMES.length);
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

  it("resolves to the same configuration whatever the deployer's shell exports", async () => {
    // What .env.example has developers export, set to values that would break a cloud stage.
    const shell = {
      QUEUE_PREFIX: 'gateway',
      REDIS_CLUSTER: 'false',
      MONGO_DB: 'scratch',
      JOB_ATTEMPTS: '1',
      MAX_BACKLOG: '10',
      POWERTOOLS_LOG_LEVEL: 'DEBUG',
      STATUS_ROUTE_OPEN: 'true',
      READY_DETAILS_OPEN: 'true',
      ROUTING_URL: 'http://127.0.0.1:9/route',
      WEBHOOK_SECRETS: 'dev-secret-change-me',
      NODE_OPTIONS: '--enable-source-maps',
    };
    const clean = await printProd({}, ['--param=redisCluster=true']);
    expect(clean.provider.environment).toMatchObject({ QUEUE_PREFIX: '{gateway}', REDIS_CLUSTER: 'true', JOB_ATTEMPTS: '5' });
    expect(await printProd(shell, ['--param=redisCluster=true'])).toEqual(clean);
  });

  it("has the Lambdas trust Amazon's RDS CA bundle when MONGO_URL is DocumentDB, and only then", async () => {
    expect((await printProd({}, ['--param=documentDb=true'])).provider.environment.NODE_EXTRA_CA_CERTS).toBe('/var/runtime/ca-cert.pem');
    // null: the framework leaves the variable out of the template.
    expect((await printProd({})).provider.environment.NODE_EXTRA_CA_CERTS ?? null).toBeNull();
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
