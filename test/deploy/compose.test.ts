import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../support/processes';

const CHECK = resolve(PROJECT_ROOT, 'tools/compose-check/bin/compose-check');

interface ComposeService {
  build?: { context: string; dockerfile: string; target?: string };
  command?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  ports?: Array<{ target: number; published: string }>;
  environment?: Record<string, string>;
  stop_grace_period?: string;
}

/** docker-compose.yml, read by compose-go: the parser `docker compose` itself uses. */
function loadCompose(file = 'docker-compose.yml'): { services: Record<string, ComposeService> } {
  if (!existsSync(CHECK)) throw new Error('compose-check is not built: run `npm run build:tools`');
  return JSON.parse(execFileSync(CHECK, [file], { cwd: PROJECT_ROOT, encoding: 'utf8' })) as { services: Record<string, ComposeService> };
}

describe('docker-compose.yml', () => {
  const compose = loadCompose();
  const scripts = (JSON.parse(readFileSync(resolve(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

  it('is a valid Compose file with redis, mongo, api and worker', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['api', 'mongo', 'redis', 'worker']);
  });

  it('runs the api and worker with the same npm scripts CI runs', () => {
    expect(compose.services.api?.command).toEqual(['npm', 'run', 'offline']);
    expect(scripts.offline).toContain('serverless offline start');
    // The worker runs the production bundle; test/e2e/worker-bundle.test.ts runs this same
    // command, in a directory with no node_modules, as the image does.
    expect(scripts['worker:bundle']).toBe('node dist/worker.js');
    expect(compose.services.worker?.command).toEqual(scripts['worker:bundle']?.split(' '));
  });

  it('builds the api from the dev target of the Dockerfile and the worker from its production target', () => {
    expect(compose.services.api?.build).toMatchObject({ dockerfile: 'Dockerfile', target: 'dev' });
    expect(compose.services.worker?.build).toMatchObject({ dockerfile: 'Dockerfile', target: 'worker' });
    const stages = [...readFileSync(resolve(PROJECT_ROOT, 'Dockerfile'), 'utf8').matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim)].map((m) => m[1]);
    expect(stages).toEqual(expect.arrayContaining(['dev', 'worker']));
  });

  it('runs Redis with persistence on and eviction off', () => {
    const command = compose.services.redis?.command?.join(' ');
    expect(command).toContain('--appendonly yes');
    expect(command).toContain('--maxmemory-policy noeviction');
  });

  it('starts the api and worker only once Redis and Mongo are healthy', () => {
    expect(compose.services.redis?.healthcheck?.test.length).toBeGreaterThan(0);
    expect(compose.services.mongo?.healthcheck?.test.length).toBeGreaterThan(0);
    for (const name of ['api', 'worker']) {
      expect(compose.services[name]?.depends_on).toMatchObject({
        redis: { condition: 'service_healthy' },
        mongo: { condition: 'service_healthy' },
      });
      expect(compose.services[name]?.environment).toMatchObject({
        REDIS_URL: 'redis://redis:6379',
        MONGO_URL: 'mongodb://mongo:27017/gateway',
      });
    }
  });

  it('publishes the emulated API Gateway on port 3000, listening on all interfaces', () => {
    expect(compose.services.api?.ports).toEqual([expect.objectContaining({ target: 3000, published: '3000' })]);
    expect(compose.services.api?.environment?.OFFLINE_HOST).toBe('0.0.0.0');
  });

  it('gives the worker time to drain on stop', () => {
    expect(compose.services.worker?.stop_grace_period).toBe('30s');
  });

  it('is checked by a parser that rejects an invalid file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'compose-'));
    const bad = join(dir, 'docker-compose.yml');
    writeFileSync(bad, 'services:\n  api:\n    image: node:22\n    depends_on: { redis: { condition: healthy } }\n');
    const result = spawnSync(CHECK, [bad], { encoding: 'utf8' });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('compose-check');
  });
});
