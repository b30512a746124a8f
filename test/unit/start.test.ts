import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { freePort } from '../../scripts/local-services';
import { ensureDevSecrets, SecretOrigin } from '../../scripts/start/dev-secrets';
import { compactJsonLine, lineFormatter } from '../../scripts/start/log-lines';
import { portProblems } from '../../scripts/start/ports';
import { portClaims, readStartSettings } from '../../scripts/start/settings';
import { PROJECT_ROOT } from '../support/processes';

describe("npm start's log stream", () => {
  it("shortens the emulator's route box to one line per route, without the Lambda invoke URLs", () => {
    const format = lineFormatter();
    const box = [
      '',
      '┌────────────────────────────────────────────────────────────┐',
      '│                                                            │',
      '│   POST | http://localhost:3000/v1/events                   │',
      '│   POST | http://localhost:3000/2015-03-31/functions/ingest/invocations │',
      '│   GET  | http://localhost:3000/v1/ops/events               │',
      '│   POST |                                                   │',
      '│   http://localhost:3000/2015-03-31/functions/ops-events/invocations │',
      '│   POST |                                                   │',
      '│   http://localhost:3000/v1/sources/{source}/a-long-route   │',
      '│                                                            │',
      '└────────────────────────────────────────────────────────────┘',
    ];
    expect(box.flatMap(format)).toEqual([
      'POST http://localhost:3000/v1/events',
      'GET  http://localhost:3000/v1/ops/events',
      'POST http://localhost:3000/v1/sources/{source}/a-long-route',
    ]);
  });

  it('shows a structured log line as its level, message and own fields', () => {
    const line = JSON.stringify({
      level: 'INFO',
      message: 'draining',
      timestamp: '2026-12-04T05:19:28.869Z',
      service: 'event-worker',
      sampling_rate: 0,
      signal: 'SIGTERM',
      drainTimeoutMs: 20000,
      error: 'two words',
    });
    expect(compactJsonLine(line)).toBe('INFO draining signal=SIGTERM drainTimeoutMs=20000 error="two words"');
  });

  it('shows a CloudWatch metric line as its values and dimensions, and leaves other lines alone', () => {
    const emf = JSON.stringify({ _aws: { Timestamp: 1, CloudWatchMetrics: [] }, service: 'ingest', statusCode: '202', Replies: 1 });
    expect(compactJsonLine(emf)).toBe('METRIC statusCode=202 Replies=1');
    expect(compactJsonLine('{not json')).toBe('{not json');
    expect(compactJsonLine('[1,2]')).toBe('[1,2]');
  });

  it("drops Redis's pid and timestamp prefix", () => {
    const format = lineFormatter();
    expect(format('1332:M 04 Dec 2026 05:28:47.684 # User requested shutdown...')).toEqual(['User requested shutdown...']);
    expect(format('1332:signal-handler (1796362127) Received SIGTERM scheduling shutdown...')).toEqual([
      'Received SIGTERM scheduling shutdown...',
    ]);
  });
});

describe("npm start's operator key and signing secret", () => {
  let dir: string;
  const envFile = () => join(dir, '.env');
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const setUp = (text?: string) => {
    dir = mkdtempSync(join(tmpdir(), 'start-secrets-'));
    if (text !== undefined) writeFileSync(envFile(), text);
  };

  it('generates both on the first start, keeps them in .env readable by its owner only, and shows the same ones later', () => {
    setUp();
    const first = ensureDevSecrets(envFile(), {}, {});
    expect(first.map((secret) => secret.origin)).toEqual([SecretOrigin.GENERATED, SecretOrigin.GENERATED]);
    expect(first[0]!.value).toMatch(/^dev-ops-[0-9a-f]{32}$/);
    expect(first[1]!.value).toMatch(/^dev-signing-[0-9a-f]{48}$/);
    expect(statSync(envFile()).mode & 0o777).toBe(0o600);
    const text = readFileSync(envFile(), 'utf8');
    expect(text).toContain(`OPS_API_KEYS=${first[0]!.value}\n`);
    expect(text).toContain(`WEBHOOK_SECRETS=${first[1]!.value}\n`);

    const fileValues = { OPS_API_KEYS: first[0]!.value, WEBHOOK_SECRETS: first[1]!.value };
    const later = ensureDevSecrets(envFile(), {}, fileValues);
    expect(later.map((secret) => [secret.value, secret.origin])).toEqual([
      [first[0]!.value, SecretOrigin.ENV_FILE],
      [first[1]!.value, SecretOrigin.ENV_FILE],
    ]);
    expect(readFileSync(envFile(), 'utf8')).toBe(text);
  });

  it('fills an empty assignment copied from .env.example in place, and keeps every other line', () => {
    setUp('# mine\nQUEUE_PREFIX=mine\nOPS_API_KEYS=\nWEBHOOK_SECRETS=shared-secret,old-secret');
    const [ops, signing] = ensureDevSecrets(
      envFile(),
      {},
      { QUEUE_PREFIX: 'mine', OPS_API_KEYS: '', WEBHOOK_SECRETS: 'shared-secret,old-secret' },
    );
    expect(signing).toMatchObject({ value: 'shared-secret', list: 'shared-secret,old-secret', origin: SecretOrigin.ENV_FILE });
    expect(readFileSync(envFile(), 'utf8')).toBe(
      `# mine\nQUEUE_PREFIX=mine\nOPS_API_KEYS=${ops!.value}\nWEBHOOK_SECRETS=shared-secret,old-secret`,
    );
  });

  it("uses the shell's values over .env's and writes nothing", () => {
    setUp('OPS_API_KEYS=from-file\n');
    const secrets = ensureDevSecrets(
      envFile(),
      { OPS_API_KEYS: 'from-shell', WEBHOOK_SECRETS: 'shell-secret' },
      { OPS_API_KEYS: 'from-file' },
    );
    expect(secrets.map((secret) => [secret.value, secret.origin])).toEqual([
      ['from-shell', SecretOrigin.ENVIRONMENT],
      ['shell-secret', SecretOrigin.ENVIRONMENT],
    ]);
    expect(readFileSync(envFile(), 'utf8')).toBe('OPS_API_KEYS=from-file\n');
  });
});

describe("npm start's ports", () => {
  let taken: Server | undefined;
  afterEach(() => new Promise<void>((done) => (taken ? taken.close(() => done()) : done())));

  it('names a port in use with the variable that moves it', async () => {
    const port = await freePort();
    taken = createServer();
    await new Promise<void>((done) => taken!.listen(port, '127.0.0.1', done));
    const settings = readStartSettings({
      HTTP_PORT: String(port),
      METRICS_PORT: '0',
      REDIS_URL: 'redis://elsewhere:6379',
      MONGO_URL: 'mongodb://elsewhere/db',
    });
    expect(await portProblems(portClaims(settings))).toEqual([
      `port ${port} is in use (wanted by the API): stop what listens there, or move the API with HTTP_PORT, e.g. HTTP_PORT=${port + 100} npm start`,
    ]);
  });

  it('claims the local Redis and FerretDB ports only when it runs them, and refuses one port given twice', async () => {
    const local = readStartSettings({ OFFLINE_LAMBDA_PORT: '', METRICS_PORT: '3000' });
    expect(portClaims(local).map((claim) => `${claim.variable}=${claim.port}`)).toEqual([
      'HTTP_PORT=3000',
      'OFFLINE_LAMBDA_PORT=3002',
      'METRICS_PORT=3000',
      'REDIS_PORT=6379',
      'MONGO_PORT=27017',
    ]);
    const port = await freePort();
    const problems = await portProblems([
      { port, variable: 'HTTP_PORT', what: 'the API' },
      { port, variable: 'METRICS_PORT', what: "the worker's metrics and health" },
    ]);
    expect(problems).toEqual([
      `HTTP_PORT and METRICS_PORT are both ${port}: give the worker's metrics and health another port with METRICS_PORT`,
    ]);
  });

  it('serves the API on the port docker compose publishes, so both print http://localhost:3000 and /ops', () => {
    const compose = parse(readFileSync(join(PROJECT_ROOT, 'docker-compose.yml'), 'utf8')) as {
      services: { api: { ports: string[]; environment: Record<string, string> } };
    };
    const { httpPort } = readStartSettings({});
    expect(compose.services.api.ports).toEqual([`${httpPort}:${httpPort}`]);
    expect(compose.services.api.environment.HTTP_PORT).toBe(String(httpPort));
  });

  it('refuses a port that is not a port, naming the variable', () => {
    expect(() => readStartSettings({ REDIS_PORT: 'six' })).toThrow(/^REDIS_PORT=six is not valid/);
  });
});
