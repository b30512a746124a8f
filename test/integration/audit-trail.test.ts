import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail, keyIdOf } from '../../lib/ops/audit-trail';
import { freshDatabase } from '../support/mongo';

/** The audit trail on the run's real Mongo-wire server. */
describe('the audit trail', () => {
  let store: Awaited<ReturnType<typeof freshDatabase>>;
  let trail: AuditTrail;

  beforeAll(async () => {
    store = await freshDatabase('audit');
    trail = new AuditTrail(store.db, { retentionDays: 400 });
  });
  afterAll(() => store?.close());

  it('records an action that failed as FAILED, with why, and still fails it', async () => {
    const entry = { keyId: keyIdOf('k'), via: 'POST /v1/ops/dlq/replay', action: 'replay', request: { source: 'x' }, dryRun: false };
    await expect(
      trail.audited(
        entry,
        () => Promise.reject(new Error('Redis went away')),
        () => 1,
      ),
    ).rejects.toThrow('Redis went away');
    const { items } = await trail.list({ action: 'replay' }, { limit: 5 });
    expect(items[0]).toMatchObject({ ...entry, matched: 0, outcome: 'FAILED', error: 'Redis went away' });
  });

  it('records a success with what the action matched, and lists newest first by key and window', async () => {
    const started = new Date();
    await trail.audited(
      { keyId: 'aaaaaaaa', via: 'function replay', action: 'replay', request: {}, dryRun: true },
      () => Promise.resolve([1, 2]),
      (r) => r.length,
    );
    await trail.audited(
      { keyId: 'bbbbbbbb', via: 'function replay', action: 'replay', request: {}, dryRun: true },
      () => Promise.resolve([]),
      (r) => r.length,
    );
    const { items } = await trail.list({ from: started }, { limit: 10 });
    expect(items.map((r) => [r.keyId, r.matched, r.outcome])).toEqual([
      ['bbbbbbbb', 0, 'SUCCEEDED'],
      ['aaaaaaaa', 2, 'SUCCEEDED'],
    ]);
    expect((await trail.list({ keyId: 'aaaaaaaa' }, { limit: 10 })).items).toHaveLength(1);
  });

  it('names a key by 8 hex digits of its SHA-256, never the key', () => {
    expect(keyIdOf('my-operator-key')).toMatch(/^[0-9a-f]{8}$/);
    expect(keyIdOf('my-operator-key')).not.toBe(keyIdOf('my-operator-key2'));
  });
});
