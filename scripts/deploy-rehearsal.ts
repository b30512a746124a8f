/**
 * A rehearsal of a cloud stage's deploy with no AWS account: the framework's own
 * `serverless deploy --stage <stage>` (its pre-deploy checks, the package, the create-stack
 * template with the deployment bucket, the artefacts uploaded to it, the update-stack template,
 * the wait for the stack) runs against a local AWS API emulator (moto). Every AWS SDK v3 client,
 * the framework's and the project's plugin's, honours `AWS_ENDPOINT_URL`, so nothing is mocked.
 *
 *   npm run deploy:rehearsal            (needs `npm run setup:deploy-tools` once)
 *
 * The VPC, subnets, security group and SNS topic the stage parameters name are created in the
 * emulator first, as an account would already have them; so are the stage's SSM parameters.
 */
import { resolve } from 'node:path';
import {
  CloudFormationClient,
  DescribeStacksCommand,
  GetTemplateCommand,
  ListStackResourcesCommand,
  type StackResourceSummary,
} from '@aws-sdk/client-cloudformation';
import { CreateSecurityGroupCommand, CreateSubnetCommand, CreateVpcCommand, EC2Client } from '@aws-sdk/client-ec2';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { spawn } from 'node:child_process';
import { startAwsEmulator, type AwsEmulator } from './aws-emulator';

const SERVICE = 'courier-event-gateway';
const PROJECT_ROOT = resolve(__dirname, '..');

export interface RehearsalOptions {
  stage: string;
  /** The emulator to deploy into; started (and stopped) by the rehearsal when absent. */
  emulator?: AwsEmulator;
  /** SSM parameters to create under /<service>/<stage>/ before the deploy. */
  secrets?: Record<string, string>;
  /** Stage parameters on top of (or, set to undefined, instead of) the account's prerequisites. */
  params?: Record<string, string | undefined>;
}

/** What `serverless deploy` printed and how it ended. */
export interface DeployRun {
  code: number | null;
  output: string;
  /** Every `--param` the command was given. */
  params: Record<string, string>;
}

export interface Rehearsal extends DeployRun {
  stackName: string;
  status: string;
  resources: StackResourceSummary[];
  template: { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };
}

/** What an account already has before the first deploy: a VPC with two subnets, a security group, a topic. */
export async function accountPrerequisites(region: string): Promise<Record<string, string>> {
  const ec2 = new EC2Client({ region });
  const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.40.0.0/16' }));
  const vpcId = vpc.Vpc!.VpcId!;
  const subnets = await Promise.all(
    ['10.40.1.0/24', '10.40.2.0/24'].map((cidr, i) =>
      ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: cidr, AvailabilityZone: `${region}${'ab'[i]}` })),
    ),
  );
  const group = await ec2.send(
    new CreateSecurityGroupCommand({ VpcId: vpcId, GroupName: `gateway-${Date.now()}`, Description: 'gateway functions and worker' }),
  );
  const topic = await new SNSClient({ region }).send(new CreateTopicCommand({ Name: 'gateway-alarms' }));
  return {
    vpcSubnetIds: subnets.map((s) => s.Subnet!.SubnetId!).join(','),
    vpcSecurityGroupIds: group.GroupId!,
    alarmTopicArn: topic.TopicArn!,
    workerImage: `123456789012.dkr.ecr.${region}.amazonaws.com/${SERVICE}-worker:rehearsal`,
    routingUrl: 'https://routing.example.com/v1/route',
  };
}

/** Creates the stage's secrets as SecureString parameters, as step 2 of the deploy guide does. */
export async function putStageSecrets(region: string, stage: string, secrets: Record<string, string>): Promise<void> {
  const ssm = new SSMClient({ region });
  for (const [name, value] of Object.entries(secrets)) {
    await ssm.send(new PutParameterCommand({ Name: `/${SERVICE}/${stage}/${name}`, Value: value, Type: 'SecureString', Overwrite: true }));
  }
}

/** `npx serverless deploy --stage <stage> --region <region> --param=...`, run to its end against the emulator. */
export function serverlessDeploy(
  stage: string,
  emulator: AwsEmulator,
  params: Record<string, string>,
  timeoutMs = 300_000,
): Promise<DeployRun> {
  const args = ['serverless', 'deploy', '--stage', stage, '--region', emulator.env.AWS_REGION!];
  args.push(...Object.entries(params).map(([name, value]) => `--param=${name}=${value}`));
  return new Promise((done, reject) => {
    // The emulator's environment only: a deployer's shell variables must not reach a cloud stage.
    const child = spawn('npx', args, { cwd: PROJECT_ROOT, env: { ...process.env, ...emulator.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => (output += chunk.toString());
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serverless deploy timed out after ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      done({ code, output, params });
    });
  });
}

/** The stack as the emulator holds it after a deploy: its status, resources and template. */
async function describeStack(region: string, stackName: string) {
  const cfn = new CloudFormationClient({ region });
  const { Stacks } = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
  const resources: StackResourceSummary[] = [];
  let token: string | undefined;
  do {
    const page = await cfn.send(new ListStackResourcesCommand({ StackName: stackName, NextToken: token }));
    resources.push(...(page.StackResourceSummaries ?? []));
    token = page.NextToken;
  } while (token);
  const { TemplateBody } = await cfn.send(new GetTemplateCommand({ StackName: stackName }));
  return { status: Stacks?.[0]?.StackStatus ?? 'UNKNOWN', resources, template: JSON.parse(TemplateBody!) as Rehearsal['template'] };
}

/**
 * Prepares the account (network, topic, secrets), runs `serverless deploy`, and returns how it
 * ended with the stack it left. A deploy that fails is returned (code and output), not thrown,
 * so a test can check what it said.
 */
export async function rehearseDeploy(options: RehearsalOptions): Promise<Rehearsal> {
  const emulator = options.emulator ?? (await startAwsEmulator());
  const previousEnv = { ...process.env };
  Object.assign(process.env, emulator.env);
  const region = emulator.env.AWS_REGION!;
  try {
    const params = Object.fromEntries(
      Object.entries({ ...(await accountPrerequisites(region)), ...options.params }).filter(
        (entry): entry is [string, string] => entry[1] !== undefined,
      ),
    );
    await putStageSecrets(region, options.stage, options.secrets ?? {});
    const run = await serverlessDeploy(options.stage, emulator, params);
    const stackName = `${SERVICE}-${options.stage}`;
    if (run.code !== 0) return { ...run, stackName, status: 'NOT_DEPLOYED', resources: [], template: { Resources: {} } };
    return { ...run, stackName, ...(await describeStack(region, stackName)) };
  } finally {
    for (const key of Object.keys(emulator.env)) {
      if (previousEnv[key] === undefined) delete process.env[key];
      else process.env[key] = previousEnv[key];
    }
    if (!options.emulator) await emulator.stop();
  }
}

if (require.main === module) {
  const stage = process.argv[2] ?? 'rehearsal';
  const secrets = {
    WEBHOOK_SECRETS: 'rehearsal-signing-secret',
    OPS_API_KEYS: 'rehearsal-operator-key',
    REDIS_URL: 'rediss://gateway.cache.example:6379',
    MONGO_URL: 'mongodb+srv://gateway:pw@cluster0.example.net/gateway',
  };
  rehearseDeploy({ stage, secrets })
    .then(({ code, output, stackName, status, resources, template }) => {
      if (code !== 0) {
        console.error(output);
        process.exit(1);
      }
      // The emulator lists a resource type it does not implement with no type: it was not created.
      const created = new Set(resources.filter((r) => r.ResourceType).map((r) => r.LogicalResourceId));
      console.log(`${stackName}: ${status}, ${created.size} of the template's ${Object.keys(template.Resources).length} resources created`);
      for (const [id, resource] of Object.entries(template.Resources).sort(([, a], [, b]) => a.Type.localeCompare(b.Type))) {
        console.log(`${created.has(id) ? 'created    ' : 'not created'}  ${resource.Type.padEnd(44)} ${id}`);
      }
    })
    .catch((error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    });
}
