import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { payloadHash } from '../../lib/events/payload-hash';
import { parseShipmentEvent, type QueuedEvent, type ShipmentEventInput } from '../../lib/events/schema';
import { MongoLedger } from '../../lib/ledger/ledger';
import { Collections } from '../../lib/store/mongo';
import { sampleEvent } from '../../scripts/sample-event';
import { ManualClock } from '../support/clock';
import { dyingAt, freshDatabase } from '../support/mongo';

function queued(input: ShipmentEventInput = sampleEvent()): QueuedEvent {
  const parsed = parseShipmentEvent(input);
  if (!parsed.ok) throw new Error('bad sample');
  return { event: parsed.event, correlationId: 'c-1', receivedAt: new Date().toISOString() };
}

const routing = { hub: 'AMS-1', lane: 'standard' as const, reason: 'test', decidedAt: new Date().toISOString() };

describe('the idempotency ledger (real Mongo-wire server)', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let clock: ManualClock;
  let ledger: MongoLedger;

  beforeAll(async () => {
    database = await freshDatabase('ledger');
  });
  // Each test has its own clock, moved on by hand when a lease is to run out.
  beforeEach(() => {
    clock = new ManualClock();
    ledger = new MongoLedger(database.db, { now: clock.now });
  });
  afterAll(async () => database.close());

  it('gives an event to exactly one of many concurrent claimers', async () => {
    const item = queued();
    const hash = payloadHash(item.event);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => ledger.claimEvent({ item, payloadHash: hash, owner: `w${i}`, leaseMs: 30_000 })),
    );
    expect(results.filter((r) => r.kind === 'claimed')).toHaveLength(1);
    expect(results.filter((r) => r.kind === 'busy')).toHaveLength(11);
  });

  it('lets another worker take over a claim whose lease has expired, and only the new holder complete it', async () => {
    const item = queued();
    const hash = payloadHash(item.event);
    const key = item.event.idempotencyKey;
    expect(await ledger.claimEvent({ item, payloadHash: hash, owner: 'crashed', leaseMs: 1000 })).toMatchObject({
      kind: 'claimed',
      entry: { round: 1, attempts: 1 },
    });
    expect((await ledger.claimEvent({ item, payloadHash: hash, owner: 'survivor', leaseMs: 30_000 })).kind).toBe('busy');
    clock.advance(1100);
    const takeover = await ledger.claimEvent({ item, payloadHash: hash, owner: 'survivor', leaseMs: 30_000 });
    expect(takeover).toMatchObject({ kind: 'claimed', entry: { attempts: 2, leaseOwner: 'survivor', round: 2 } });
    expect(await ledger.markRouted({ key, owner: 'crashed', round: 1, attempts: 1 }, routing)).toBe(false);
    expect(await ledger.markRouted({ key, owner: 'survivor', round: 2, attempts: 2 }, routing)).toBe(true);
    expect(await ledger.findByKey(key)).toMatchObject({ status: 'ROUTED', leaseOwner: null, routing: { hub: 'AMS-1' } });
    expect((await ledger.claimEvent({ item, payloadHash: hash, owner: 'late', leaseMs: 30_000 })).kind).toBe('done');
  });

  it('lets the holder complete before a late takeover, and the takeover then finds the event done', async () => {
    const item = queued();
    const hash = payloadHash(item.event);
    const key = item.event.idempotencyKey;
    await ledger.claimEvent({ item, payloadHash: hash, owner: 'slow', leaseMs: 500 });
    clock.advance(600);
    // The lease has expired but the holder finishes first: its completion takes round 2.
    expect(await ledger.markRouted({ key, owner: 'slow', round: 1, attempts: 1 }, routing)).toBe(true);
    expect((await ledger.claimEvent({ item, payloadHash: hash, owner: 'late', leaseMs: 30_000 })).kind).toBe('done');
    expect(await ledger.findByKey(key)).toMatchObject({ status: 'ROUTED', round: 2, attempts: 1 });
  });

  /** A ledger on the same database whose process "dies" right after taking a round: its write of the entry fails. */
  function dyingLedger(): MongoLedger {
    return new MongoLedger(dyingAt(database.db, Collections.ledger, 'updateOne'), { now: clock.now });
  }

  it('completes an event whose holder took the completing round but died before writing the entry', async () => {
    const item = queued();
    const hash = payloadHash(item.event);
    const key = item.event.idempotencyKey;
    await ledger.claimEvent({ item, payloadHash: hash, owner: 'dead', leaseMs: 500 });
    await expect(dyingLedger().markRouted({ key, owner: 'dead', round: 1, attempts: 1 }, routing)).rejects.toThrow('process died');
    expect(await ledger.findByKey(key)).toMatchObject({ status: 'ROUTING_PENDING', round: 1, attempts: 1 });
    clock.advance(600);
    expect((await ledger.claimEvent({ item, payloadHash: hash, owner: 'next', leaseMs: 30_000 })).kind).toBe('done');
    expect(await ledger.findByKey(key)).toMatchObject({ status: 'ROUTED', leaseOwner: null, round: 2, routing: { hub: 'AMS-1' } });
  });

  it('takes over past a takeover whose taker died before writing the entry', async () => {
    const item = queued();
    const hash = payloadHash(item.event);
    await ledger.claimEvent({ item, payloadHash: hash, owner: 'first', leaseMs: 300 });
    clock.advance(400);
    await expect(dyingLedger().claimEvent({ item, payloadHash: hash, owner: 'second', leaseMs: 300 })).rejects.toThrow('process died');
    // The second taker's claim (round 2) is on record with its lease; once that lease is over, a
    // third worker brings the entry up to round 2 and takes round 3.
    expect((await ledger.claimEvent({ item, payloadHash: hash, owner: 'third', leaseMs: 30_000 })).kind).toBe('busy');
    clock.advance(400);
    expect(await ledger.claimEvent({ item, payloadHash: hash, owner: 'third', leaseMs: 30_000 })).toMatchObject({
      kind: 'claimed',
      entry: { round: 3, attempts: 3, leaseOwner: 'third' },
    });
  });

  it('finishes a failure whose holder died after taking its round, then lets the retry claim it', async () => {
    const item = queued();
    const hash = payloadHash(item.event);
    const key = item.event.idempotencyKey;
    await ledger.claimEvent({ item, payloadHash: hash, owner: 'dying', leaseMs: 300 });
    const failure = { attempt: 1, error: 'TransientRoutingError', message: '503' };
    await expect(dyingLedger().markFailed({ key, owner: 'dying', round: 1, attempts: 1 }, failure, null)).rejects.toThrow('process died');
    // Until its lease runs out the entry looks held; then the next claim finds the failure round
    // taken, writes the failure the holder could not, and takes the round after.
    expect((await ledger.claimEvent({ item, payloadHash: hash, owner: 'retry', leaseMs: 30_000 })).kind).toBe('busy');
    clock.advance(400);
    expect(await ledger.claimEvent({ item, payloadHash: hash, owner: 'retry', leaseMs: 30_000 })).toMatchObject({
      kind: 'claimed',
      entry: { round: 3, attempts: 2, leaseOwner: 'retry', attemptHistory: [{ attempt: 1, error: 'TransientRoutingError' }] },
    });
  });

  it('refuses a failure or a dead letter from a holder whose claim was taken over', async () => {
    const item = queued();
    const hash = payloadHash(item.event);
    const key = item.event.idempotencyKey;
    await ledger.claimEvent({ item, payloadHash: hash, owner: 'slow', leaseMs: 300 });
    clock.advance(400);
    expect((await ledger.claimEvent({ item, payloadHash: hash, owner: 'taker', leaseMs: 30_000 })).kind).toBe('claimed');
    const failure = { attempt: 1, error: 'TransientRoutingError', message: '503' };
    expect(await ledger.markFailed({ key, owner: 'slow', round: 1, attempts: 1 }, failure, null)).toBe(false);
    expect(await ledger.markDeadLettered({ key, owner: 'slow', round: 1, attempts: 1 }, failure)).toBe(false);
    expect(await ledger.findByKey(key)).toMatchObject({ status: 'ROUTING_PENDING', leaseOwner: 'taker', round: 2, attemptHistory: [] });
  });

  it('gives an expired claim to exactly one of many concurrent takers', async () => {
    const item = queued();
    const hash = payloadHash(item.event);
    await ledger.claimEvent({ item, payloadHash: hash, owner: 'crashed', leaseMs: 1000 });
    clock.advance(1100);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => ledger.claimEvent({ item, payloadHash: hash, owner: `t${i}`, leaseMs: 30_000 })),
    );
    expect(results.filter((r) => r.kind === 'claimed')).toHaveLength(1);
  });

  it('reports the same key with a different payload as a conflict, never as claimable', async () => {
    const item = queued();
    await ledger.claimEvent({ item, payloadHash: payloadHash(item.event), owner: 'w', leaseMs: 30_000 });
    const altered = queued({ ...item.event, payload: { ...item.event.payload, status: 'DELIVERED' } });
    const result = await ledger.claimEvent({ item: altered, payloadHash: payloadHash(altered.event), owner: 'w2', leaseMs: 30_000 });
    expect(result.kind).toBe('conflict');
  });

  it('releases a failed attempt for the retry and records it in the attempt history', async () => {
    const item = queued();
    const hash = payloadHash(item.event);
    const key = item.event.idempotencyKey;
    await ledger.claimEvent({ item, payloadHash: hash, owner: 'a', leaseMs: 30_000 });
    expect(
      await ledger.markFailed(
        { key, owner: 'a', round: 1, attempts: 1 },
        { attempt: 1, error: 'TransientRoutingError', message: '503' },
        new Date(Date.now() + 1000),
      ),
    ).toBe(true);
    const entry = await ledger.findByKey(key);
    expect(entry).toMatchObject({ status: 'FAILED', leaseOwner: null, attemptHistory: [{ attempt: 1, error: 'TransientRoutingError' }] });
    expect((await ledger.claimEvent({ item, payloadHash: hash, owner: 'b', leaseMs: 30_000 })).kind).toBe('claimed');
  });

  it('keeps a dead-lettered event unclaimable until it is queued for a replay', async () => {
    const item = queued();
    const hash = payloadHash(item.event);
    const key = item.event.idempotencyKey;
    await ledger.claimEvent({ item, payloadHash: hash, owner: 'a', leaseMs: 30_000 });
    expect(
      await ledger.markDeadLettered(
        { key, owner: 'a', round: 1, attempts: 1 },
        { attempt: 1, error: 'PayloadConflictError', message: 'x' },
      ),
    ).toBe(true);
    expect((await ledger.claimEvent({ item, payloadHash: hash, owner: 'b', leaseMs: 30_000 })).kind).toBe('dead-lettered');
    await ledger.markQueuedForReplay(key, 'job-r1');
    expect((await ledger.findByEventId(item.event.eventId))?.status).toBe('QUEUED');
    expect(await ledger.claimEvent({ item, payloadHash: hash, owner: 'b', leaseMs: 30_000 })).toMatchObject({
      kind: 'claimed',
      entry: { attempts: 1, replayCount: 1 },
    });
  });
});
