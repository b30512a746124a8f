/**
 * The stage parameters a non-dev stage requires (serverless.yml `params`), with harmless values,
 * for tests that package or start a cloud stage without an AWS account. Each required
 * parameter has no default outside dev: leave one out and `serverless` stops naming it.
 */
export const REQUIRED_CLOUD_PARAMS: Record<string, string> = {
  vpcSubnetIds: 'subnet-0a1b2c3d4e5f60001,subnet-0a1b2c3d4e5f60002',
  vpcSecurityGroupIds: 'sg-0a1b2c3d4e5f60001',
  workerImage: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/courier-event-gateway-worker:abc1234',
  alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:gateway-alarms',
  routingUrl: 'https://routing.example.com/v1/route',
};

/** `--param=name=value` arguments for the serverless CLI. */
export function paramArgs(params: Record<string, string>): string[] {
  return Object.entries(params).map(([name, value]) => `--param=${name}=${value}`);
}

/** Every function serverless.yml deploys, by its name in the file: the package and the rehearsal check each one. */
export const FUNCTION_NAMES = [
  'ingest',
  'status',
  'health',
  'ready',
  'ops-stats',
  'ops-dlq',
  'ops-events',
  'ops-audit',
  'ops-pauses',
  'ops-replay',
  'ops-reroutes',
  'replay',
  'reroute',
  'console',
] as const;
