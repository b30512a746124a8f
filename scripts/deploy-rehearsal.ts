/**
 * A rehearsal of `serverless deploy --stage <stage>` with no AWS account: packages the stage,
 * then deploys the package into a local AWS API emulator (moto) the way the framework deploys
 * it — the create-stack template (the deployment bucket), the artefacts uploaded to that bucket,
 * then the update-stack template — and lists what the stack created.
 *
 *   npm run deploy:rehearsal            (needs `npm run setup:deploy-tools` once)
 *
 * The VPC, subnets, security group and SNS topic the stage parameters name are created in the
 * emulator first, as an account would already have them; so are the stage's SSM parameters.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStacksCommand,
  ListStackResourcesCommand,
  UpdateStackCommand,
  type StackResourceSummary,
} from '@aws-sdk/client-cloudformation';
import { CreateSecurityGroupCommand, CreateSubnetCommand, CreateVpcCommand, EC2Client } from '@aws-sdk/client-ec2';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { startAwsEmulator, type AwsEmulator } from './aws-emulator';

const SERVICE = 'courier-event-gateway';

export interface RehearsalOptions {
  stage: string;
  /** The emulator to deploy into; started (and stopped) by the rehearsal when absent. */
  emulator?: AwsEmulator;
  /** SSM parameters to create under /<service>/<stage>/ before the deploy. */
  secrets?: Record<string, string>;
}

export interface Rehearsal {
  stackName: string;
  status: string;
  resources: StackResourceSummary[];
  params: Record<string, string>;
  template: { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };
}

type Template = Rehearsal['template'];

/** What an account already has before the first deploy: a VPC with two subnets, a security group, a topic. */
async function accountPrerequisites(region: string): Promise<Record<string, string>> {
  const ec2 = new EC2Client({ region });
  const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.40.0.0/16' }));
  const vpcId = vpc.Vpc!.VpcId!;
  const subnets = await Promise.all(
    ['10.40.1.0/24', '10.40.2.0/24'].map((cidr, i) =>
      ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: cidr, AvailabilityZone: `${region}${'ab'[i]}` })),
    ),
  );
  const group = await ec2.send(
    new CreateSecurityGroupCommand({ VpcId: vpcId, GroupName: 'gateway', Description: 'gateway functions and worker' }),
  );
  const topic = await new SNSClient({ region }).send(new CreateTopicCommand({ Name: 'gateway-alarms' }));
  return {
    vpcSubnetIds: subnets.map((s) => s.Subnet!.SubnetId!).join(','),
    vpcSecurityGroupIds: group.GroupId!,
    alarmTopicArn: topic.TopicArn!,
    workerImage: `123456789012.dkr.ecr.${region}.amazonaws.com/${SERVICE}-worker:rehearsal`,
  };
}

async function waitForStack(cfn: CloudFormationClient, stackName: string, timeoutMs = 120_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { Stacks } = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
    const status = Stacks?.[0]?.StackStatus ?? 'UNKNOWN';
    if (!status.endsWith('_IN_PROGRESS')) {
      if (!status.endsWith('_COMPLETE') || status.includes('ROLLBACK')) {
        throw new Error(`stack ${stackName} ended ${status}: ${Stacks?.[0]?.StackStatusReason ?? ''}`);
      }
      return status;
    }
    if (Date.now() > deadline) throw new Error(`stack ${stackName} still ${status} after ${timeoutMs} ms`);
    await sleep(500);
  }
}

export async function rehearseDeploy(options: RehearsalOptions): Promise<Rehearsal> {
  const emulator = options.emulator ?? (await startAwsEmulator());
  const previousEnv = { ...process.env };
  Object.assign(process.env, emulator.env);
  const region = emulator.env.AWS_REGION!;
  const out = mkdtempSync(join(tmpdir(), 'gateway-rehearsal-'));
  try {
    const params = await accountPrerequisites(region);
    const ssm = new SSMClient({ region });
    for (const [name, value] of Object.entries(options.secrets ?? {})) {
      await ssm.send(
        new PutParameterCommand({ Name: `/${SERVICE}/${options.stage}/${name}`, Value: value, Type: 'SecureString', Overwrite: true }),
      );
    }

    const packaged = spawnSync(
      'npx',
      [
        'serverless',
        'package',
        '--stage',
        options.stage,
        '--region',
        region,
        '--package',
        out,
        ...Object.entries(params).map(([name, value]) => `--param=${name}=${value}`),
      ],
      { cwd: resolve(__dirname, '..'), encoding: 'utf8', timeout: 240_000 },
    );
    if (packaged.status !== 0) throw new Error(`serverless package failed:\n${packaged.stdout}\n${packaged.stderr}`);

    const cfn = new CloudFormationClient({ region });
    const stackName = `${SERVICE}-${options.stage}`;
    const capabilities = ['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM'] as const;
    // 1. The create-stack template: just the deployment bucket, as `serverless deploy` does first.
    await cfn.send(
      new CreateStackCommand({
        StackName: stackName,
        TemplateBody: readFileSync(join(out, 'cloudformation-template-create-stack.json'), 'utf8'),
        Capabilities: [...capabilities],
      }),
    );
    await waitForStack(cfn, stackName);
    const bucket = (await cfn.send(new ListStackResourcesCommand({ StackName: stackName }))).StackResourceSummaries!.find(
      (r) => r.LogicalResourceId === 'ServerlessDeploymentBucket',
    )!.PhysicalResourceId!;

    // 2. The artefacts, under the keys the update template names.
    const templateText = readFileSync(join(out, 'cloudformation-template-update-stack.json'), 'utf8');
    const template = JSON.parse(templateText) as Template;
    const s3 = new S3Client({ region, forcePathStyle: true });
    const zips = new Set(readdirSync(out).filter((file) => file.endsWith('.zip')));
    for (const resource of Object.values(template.Resources)) {
      if (resource.Type !== 'AWS::Lambda::Function') continue;
      const key = (resource.Properties!.Code as { S3Key: string }).S3Key;
      const zip = key.split('/').pop()!;
      if (!zips.has(zip)) throw new Error(`the template names ${key}, which the package does not hold`);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: readFileSync(join(out, zip)) }));
    }

    // 3. The whole stack.
    await cfn.send(new UpdateStackCommand({ StackName: stackName, TemplateBody: templateText, Capabilities: [...capabilities] }));
    const status = await waitForStack(cfn, stackName, 240_000);
    const resources: StackResourceSummary[] = [];
    let token: string | undefined;
    do {
      const page = await cfn.send(new ListStackResourcesCommand({ StackName: stackName, NextToken: token }));
      resources.push(...(page.StackResourceSummaries ?? []));
      token = page.NextToken;
    } while (token);
    return { stackName, status, resources, params, template };
  } finally {
    rmSync(out, { recursive: true, force: true });
    for (const key of Object.keys(emulator.env)) {
      if (previousEnv[key] === undefined) delete process.env[key];
      else process.env[key] = previousEnv[key];
    }
    if (!options.emulator) await emulator.stop();
  }
}

if (require.main === module) {
  const stage = process.argv[2] ?? 'rehearsal';
  rehearseDeploy({ stage })
    .then(({ stackName, status, resources, template }) => {
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
