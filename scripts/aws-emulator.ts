/**
 * Starts a local AWS API emulator (moto in server mode, from tools/aws-emulator/.venv, installed
 * by `npm run setup:deploy-tools`) on a free loopback port. The deploy rehearsal creates the
 * packaged CloudFormation stack in it, and the secrets tests read SSM parameters from it. Every
 * AWS SDK v3 client honours `AWS_ENDPOINT_URL`, so code under test needs no change to use it.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './local-services';

export const DEPLOY_TOOLS_BIN = resolve(__dirname, '..', 'tools', 'aws-emulator', '.venv', 'bin');
const MOTO_SERVER = resolve(DEPLOY_TOOLS_BIN, 'moto_server');
export const CFN_LINT = resolve(DEPLOY_TOOLS_BIN, 'cfn-lint');

export const DEPLOY_TOOLS_HINT = 'the deploy tools are not installed: run `npm run setup:deploy-tools` (needs python3 with venv)';

export interface AwsEmulator {
  endpoint: string;
  /** The environment an AWS SDK (or the emulated Lambdas) needs to talk to the emulator. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** Dummy credentials: the emulator accepts any, and no request can reach a real account. */
export const EMULATOR_REGION = 'eu-west-1';

export async function startAwsEmulator(): Promise<AwsEmulator> {
  if (!existsSync(MOTO_SERVER)) throw new Error(DEPLOY_TOOLS_HINT);
  const port = await freePort();
  const child = spawn(MOTO_SERVER, ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with code ${child.exitCode}: ${output}`);
    try {
      if ((await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(2000) })).ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`moto_server did not answer within 30 s: ${output}`);
    await sleep(200);
  }
  return {
    endpoint,
    env: {
      AWS_ENDPOINT_URL: endpoint,
      AWS_ACCESS_KEY_ID: 'emulator',
      AWS_SECRET_ACCESS_KEY: 'emulator',
      AWS_REGION: EMULATOR_REGION,
      AWS_DEFAULT_REGION: EMULATOR_REGION,
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
