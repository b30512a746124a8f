import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../lib/ops/audit-trail';
import { keyIdOf } from '../../lib/ops/audit-trail';
import { sampleEvent } from '../../scripts/sample-event';
import { runCommand, type RunningProcess } from '../support/processes';
import { isolatedEnv, postMany, startOffline, startWorker, waitForState } from '../support/stack';

const KEY = 'audit-ops-key';
const OTHER_KEY = 'audit-ops-key-2';

type AuditPage = { items: Array<Omit<AuditRecord, 'at'> & { at: string }>; nextCursor?: string };

/**
 * Who did what: every operator action, over HTTP or through `serverless invoke local`, is
 * recorded with its key id (never the key), route or function, request, matches and outcome.
 */
describe('the audit trail of operator actions', () => {
  const env = isolatedEnv('audit', {
    OPS_API_KEYS: `${KEY},${OTHER_KEY}`,
    JOB_ATTEMPTS: '1',
    ROUTING_LATENCY_MS: '10',
    BREAKER_FAILURE_THRESHOLD: '1000',
  });
  let offline: RunningProcess;
  let baseUrl: string;
  const dead = Array.from({ length: 3 }, () => sampleEvent({ source: 'audit-src' }));

  const ops = (path: string, init: RequestInit = {}, key: string | null = KEY) =>
    fetch(`${baseUrl}${path}`, {
      ...init,
      headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) },
    });
  const audit = async (query: Record<string, string> = {}, key: string | null = KEY) => {
    const response = await ops(`/v1/ops/audit?${new URLSearchParams(query).toString()}`, {}, key);
    return { status: response.status, json: (await response.json()) as AuditPage & { error?: unknown } };
  };

  beforeAll(async () => {
    ({ process: offline, baseUrl } = await startOffline(env));
    const worker: RunningProcess = await startWorker({ ...env, ROUTING_FAILURE_RATE: '1' });
    try {
      expect(await postMany(baseUrl, dead)).toEqual([202, 202, 202]);
      for (const event of dead) await waitForState(baseUrl, event.eventId, 'DEAD_LETTERED');
    } finally {
      await worker.stop();
    }
  });

  afterAll(async () => offline?.stop());

  it('records a dry run and a replay over HTTP with the key id, the request and how many events matched', async () => {
    const dry = await ops('/v1/ops/dlq/replay', { method: 'POST', body: JSON.stringify({ source: 'audit-src', dryRun: true }) });
    expect(dry.status).toBe(200);
    const real = await ops(
      '/v1/ops/dlq/replay',
      { method: 'POST', body: JSON.stringify({ ids: [dead[0]!.eventId], ratePerSecond: 10 }) },
      OTHER_KEY,
    );
    expect(real.status).toBe(200);
    const { status, json } = await audit();
    expect(status).toBe(200);
    expect(json.items.slice(0, 2)).toMatchObject([
      {
        keyId: keyIdOf(OTHER_KEY),
        via: 'POST /v1/ops/dlq/replay',
        action: 'replay',
        dryRun: false,
        matched: 1,
        outcome: 'SUCCEEDED',
        request: { ids: [dead[0]!.eventId] },
      },
      { keyId: keyIdOf(KEY), via: 'POST /v1/ops/dlq/replay', action: 'replay', dryRun: true, matched: 3, request: { source: 'audit-src' } },
    ]);
    expect(JSON.stringify(json)).not.toContain(KEY);
    expect((await audit({ keyId: keyIdOf(OTHER_KEY) })).json.items.map((r) => r.keyId)).toEqual([keyIdOf(OTHER_KEY)]);
  });

  it('records a replay through `serverless invoke local -f replay` the same way, with no key', async () => {
    const invoked = await runCommand(
      'npx',
      ['serverless', 'invoke', 'local', '-f', 'replay', '--data', '{"source":"audit-src","dryRun":true}'],
      env,
    );
    expect(invoked.code, invoked.stderr).toBe(0);
    const { json } = await audit({ limit: '1' });
    expect(json.items).toMatchObject([
      {
        keyId: null,
        via: 'function replay',
        action: 'replay',
        dryRun: true,
        matched: 2,
        outcome: 'SUCCEEDED',
        request: { source: 'audit-src' },
      },
    ]);
    expect(json.nextCursor).toEqual(expect.any(String));
    const next = await audit({ limit: '1', cursor: json.nextCursor! });
    expect(next.json.items[0]?._id).not.toBe(json.items[0]?._id);
  });

  it('records nothing for a request refused before anything happened (bad input)', async () => {
    const refused = await ops('/v1/ops/dlq/replay', { method: 'POST', body: JSON.stringify({ ids: ['x'], ratePerSecond: -1 }) });
    expect(refused.status).toBe(400);
    // Refused before it began (bad input): nothing happened, so nothing is recorded as done.
    expect((await audit({ limit: '1' })).json.items[0]).not.toMatchObject({ request: { ratePerSecond: -1 } });
  });

  it('needs the operator key, and checks its query', async () => {
    expect((await audit({}, null)).status).toBe(401);
    expect((await audit({}, 'wrong')).status).toBe(401);
    for (const [query, field] of [
      [{ keyId: 'not-hex' }, 'keyId'],
      [{ who: 'me' }, 'who'],
      [{ limit: '500' }, 'limit'],
      [{ cursor: 'nope' }, 'cursor'],
    ] as const) {
      const { status, json } = await audit(query);
      expect(status, JSON.stringify(query)).toBe(400);
      expect(JSON.stringify(json.error)).toContain(`"${field}"`);
    }
  });
});
