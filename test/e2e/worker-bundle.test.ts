import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/local-services';
import { emfLines } from '../support/emf';
import { PROJECT_ROOT, runCommand, waitFor, type RunningProcess } from '../support/processes';
import { isolatedEnv, postEvent, startOffline, waitForState } from '../support/stack';

/**
 * The production worker as its image runs it: the esbuild bundle alone, in a directory with no
 * node_modules anywhere above it, started with `npm run worker:bundle`'s command (the Dockerfile's
 * CMD and docker compose's worker command), against the run's real Redis and Mongo-wire server.
 */
describe('the worker bundle, with no node_modules', () => {
  const scripts = (JSON.parse(readFileSync(resolve(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const [command = 'node', ...args] = (scripts['worker:bundle'] ?? '').split(' ');
  const appDir = mkdtempSync(join(tmpdir(), 'gateway-worker-bundle-'));
  const env = isolatedEnv('bundle', { ROUTING_LATENCY_MS: '100' });
  let offline: RunningProcess;
  let baseUrl: string;
  let worker: ChildProcess | undefined;
  let output = '';

  beforeAll(async () => {
    const build = await runCommand('npm', ['run', 'build'], {});
    expect(build.code, build.stderr).toBe(0);
    mkdirSync(join(appDir, 'dist'));
    for (const file of ['worker.js', 'worker.js.map']) copyFileSync(join(PROJECT_ROOT, 'dist', file), join(appDir, 'dist', file));
    ({ process: offline, baseUrl } = await startOffline(env));
  });

  afterAll(async () => {
    if (worker?.exitCode === null) worker.kill('SIGKILL');
    await offline?.stop();
    rmSync(appDir, { recursive: true, force: true });
  });

  it('has nothing to resolve packages from: no node_modules in or above its directory', () => {
    for (let dir = appDir; ; dir = dirname(dir)) {
      expect(existsSync(join(dir, 'node_modules')), join(dir, 'node_modules')).toBe(false);
      if (dir === dirname(dir)) break;
    }
  });

  it('routes a posted event, reports healthy, publishes its backlog metrics and exits 0 on SIGTERM', async () => {
    const metricsPort = await freePort();
    // Only what the container gets: no NODE_PATH, NODE_OPTIONS or npm variables from this run.
    worker = spawn(command, args, {
      cwd: appDir,
      env: {
        PATH: process.env.PATH,
        ...env,
        NODE_ENV: 'production',
        POWERTOOLS_LOG_LEVEL: 'INFO',
        METRICS_PORT: String(metricsPort),
        WORKER_CLOUD_METRICS_MS: '500',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((done) => worker?.once('exit', (code) => done(code)));
    const keep = (chunk: Buffer) => (output += chunk.toString());
    worker.stdout?.on('data', keep);
    worker.stderr?.on('data', keep);
    const health = `http://127.0.0.1:${metricsPort}/health`;

    const state = await waitFor(
      'the bundled worker to report healthy',
      async () => {
        if (worker?.exitCode !== null) return 'exited';
        const response = await fetch(health, { signal: AbortSignal.timeout(2000) });
        return response.status === 200 ? 'healthy' : undefined;
      },
      30_000,
    );
    expect(state, output.slice(-3000)).toBe('healthy');
    expect(output).toContain('worker started');

    const { response, json, event } = await postEvent(baseUrl);
    expect(response.status, `${JSON.stringify(json)}\n${offline.output().slice(-2000)}`).toBe(202);
    expect(await waitForState(baseUrl, event.eventId, 'ROUTED')).toMatchObject({ attempts: 1 });

    const metrics = await waitFor(
      'an EMF line from the bundle',
      async () => emfLines(output).find((line) => line._aws.CloudWatchMetrics[0]?.Namespace === 'CourierEventGateway'),
      20_000,
    );
    expect(metrics).toMatchObject({
      service: 'worker',
      Backlog: expect.any(Number),
      OldestWaitingAgeSeconds: expect.any(Number),
      DeadLettersPending: 0,
    });

    worker.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise((done) => setTimeout(() => done('timeout'), 25_000))]);
    expect(code, output.slice(-3000)).toBe(0);
    expect(output).toContain('worker stopped');
  });
});
