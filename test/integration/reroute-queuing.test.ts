import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { payloadHash } from '../../lib/events/payload-hash';
import { parseShipmentEvent, type QueuedEvent } from '../../lib/events/schema';
import { MongoLedger } from '../../lib/ledger/ledger';
import { BullEventQueue } from '../../lib/queue/event-queue';
import { jobIdFor } from '../../lib/queue/names';
import { rerouteEvents, rerouteProgress } from '../../lib/reroutes/reroute';
import { parseRerouteRequest } from '../../lib/reroutes/reroute-request';
import { sampleEvent } from '../../scripts/sample-event';
import { freshDatabase } from '../support/mongo';

/**
 * A confirmed re-route whose request died while queuing its jobs (real Redis and Mongo-wire
 * server): the same request sent again within 30 s reports progress and queues nothing; sent
 * after, it finishes the queuing, each event once.
 */
describe('a re-route whose request died while queuing', () => {
  const prefix = `t_reroute_${randomUUID().slice(0, 8)}`;
  let redis: Redis;
  let queue: BullEventQueue;
  let database: Awaited<ReturnType<typeof freshDatabase>>;

  beforeAll(async () => {
    redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
    queue = new BullEventQueue({ connection: redis, prefix, attempts: 3 });
    database = await freshDatabase('reroute-queuing');
  });
  afterAll(async () => {
    await queue.queue.obliterate({ force: true }).catch(() => undefined);
    await queue.queue.close();
    redis.disconnect();
    await database.close();
  });

  /** An event taken up and routed once by a worker: ROUTED in the ledger, its body kept. */
  async function routed(): Promise<QueuedEvent> {
    const parsed = parseShipmentEvent(sampleEvent());
    if (!parsed.ok) throw new Error('bad sample');
    const item: QueuedEvent = { event: parsed.event, correlationId: 'c-1', receivedAt: new Date().toISOString() };
    const ledger = new MongoLedger(database.db);
    const claim = await ledger.claimEvent({ item, payloadHash: payloadHash(item.event), owner: 'w0', leaseMs: 30_000 });
    if (claim.kind !== 'claimed') throw new Error(claim.kind);
    const entry = claim.entry;
    const routing = { hub: 'AMS-1', lane: 'standard' as const, reason: 'test', decidedAt: new Date().toISOString() };
    expect(await ledger.markRouted({ key: entry._id, owner: 'w0', round: entry.round ?? 1, attempts: entry.attempts }, routing)).toBe(true);
    return item;
  }

  it('finishes the queuing when the request is sent again after 30 s, and not before', async () => {
    const events = await Promise.all([routed(), routed(), routed()]);
    const request = parseRerouteRequest({
      requestId: `rr-${randomUUID()}`,
      reason: 'hub closed',
      ids: events.map((item) => item.event.eventId),
      confirm: true,
      ratePerSecond: 1000,
    });
    const operator = { keyId: 'abcd1234', via: 'test' };
    const started = Date.now();
    // The first request dies after queuing one job.
    let enqueued = 0;
    const dying = {
      enqueue: async (...args: Parameters<BullEventQueue['enqueue']>) => {
        if (enqueued++ > 0) throw new Error('the request died');
        return queue.enqueue(...args);
      },
      findQueuedJobId: (eventId: string) => queue.findQueuedJobId(eventId),
    };
    await expect(rerouteEvents(request, operator, { db: database.db, events: dying, defaultRatePerSecond: 50 })).rejects.toThrow(
      'the request died',
    );
    const jobIds = events.map((item) => `${jobIdFor(item.event.idempotencyKey)}-rr2`);
    const present = async () => (await Promise.all(jobIds.map((id) => queue.queue.getJob(id)))).filter(Boolean).length;
    expect(await present()).toBe(1);
    expect((await rerouteProgress(request.requestId, { db: database.db })).state).toBe('queuing');

    /** The same request sent again `ms` after the first. */
    const sentAgainAfter = (ms: number) =>
      rerouteEvents(request, operator, { db: database.db, events: queue, defaultRatePerSecond: 50, now: () => started + ms });

    // Sent again 10 s later: the first may still be queuing, so nothing is added.
    expect((await sentAgainAfter(10_000)).kind).toBe('repeated');
    expect(await present()).toBe(1);

    // Sent again 31 s later: the rest is queued, each once, and the request is no longer queuing.
    expect((await sentAgainAfter(31_000)).kind).toBe('repeated');
    expect(await present()).toBe(3);
    expect(await queue.queue.getJobCountByTypes('waiting', 'delayed', 'active', 'prioritized')).toBe(3);
    const progress = await rerouteProgress(request.requestId, { db: database.db });
    expect(progress.state).not.toBe('queuing');
    expect(progress.matched).toBe(3);
  });
});
