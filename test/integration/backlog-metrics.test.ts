import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DeadLetterReason, DeadLetterStore } from '../../lib/dead-letters/dead-letter-store';
import { parseShipmentEvent } from '../../lib/events/schema';
import { EVENTS_QUEUE } from '../../lib/queue/names';
import { readBacklog, startBacklogMetrics } from '../../lib/worker/backlog-metrics';
import { sampleEvent } from '../../scripts/sample-event';
import { captureEmf } from '../support/emf';
import { freshDatabase } from '../support/mongo';

/** The worker's cloud metrics read from a real events queue (Redis) and dead-letter store (Mongo-wire). */
describe('the backlog metrics the worker publishes (real Redis and Mongo-wire server)', () => {
  const prefix = `t_backlog_${randomUUID().slice(0, 8)}`;
  let redis: Redis;
  let events: Queue;
  let deadLetters: DeadLetterStore;
  let database: Awaited<ReturnType<typeof freshDatabase>>;

  beforeAll(async () => {
    redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
    events = new Queue(EVENTS_QUEUE, { connection: redis, prefix });
    database = await freshDatabase('backlog');
    deadLetters = new DeadLetterStore(database.db, redis, prefix);
  });

  afterAll(async () => {
    await events.obliterate({ force: true }).catch(() => undefined);
    await deadLetters.queue.obliterate({ force: true }).catch(() => undefined);
    await Promise.all([events.close(), deadLetters.close()]);
    await redis.quit();
    await database.close();
  });

  it('publishes Backlog, OldestWaitingAgeSeconds and DeadLettersPending as one EMF line', async () => {
    const enqueuedAt = Date.now();
    for (let i = 0; i < 3; i++) await events.add('event', { n: i });
    await events.add('event', { n: 'retry' }, { delay: 60_000 });
    await events.add('event', { n: 'urgent' }, { priority: 1 });
    for (let i = 0; i < 2; i++) {
      const parsed = parseShipmentEvent(sampleEvent());
      if (!parsed.ok) throw new Error('bad sample event');
      await deadLetters.deadLetter({
        item: { event: parsed.event, correlationId: `c-${i}`, receivedAt: new Date().toISOString() },
        payloadHash: `hash-${i}`,
        reason: DeadLetterReason.RETRIES_EXHAUSTED,
        error: { name: 'TransientRoutingError', message: 'routing service unavailable' },
        attempts: 5,
        attemptHistory: [],
      });
    }

    // Read as if 95 s had passed, so the age is unmistakably the oldest waiting job's.
    const readAt = enqueuedAt + 95_000;
    let publisher: ReturnType<typeof startBacklogMetrics> | undefined;
    const errors: unknown[] = [];
    const lines = await captureEmf(async () => {
      publisher = startBacklogMetrics({
        intervalMs: 3_600_000,
        read: () => readBacklog(events, deadLetters, readAt),
        onError: (error) => errors.push(error),
      });
      await publisher.publishNow();
    });
    publisher?.stop();

    expect(errors).toEqual([]);
    expect(lines).toHaveLength(1);
    const [line] = lines;
    expect(line?._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'CourierEventGateway', Dimensions: [['service']] });
    expect(line).toMatchObject({ service: 'worker', Backlog: 5, DeadLettersPending: 2 });
    // The three waiting jobs were added within a second or two of enqueuedAt.
    expect(line?.OldestWaitingAgeSeconds).toBeGreaterThanOrEqual(93);
    expect(line?.OldestWaitingAgeSeconds).toBeLessThanOrEqual(95);
  });

  it('reports a reading that fails (Redis gone) and publishes nothing', async () => {
    const gone = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
    const unreachable = new Queue(EVENTS_QUEUE, { connection: gone, prefix });
    unreachable.on('error', () => undefined);
    gone.disconnect();
    const errors: unknown[] = [];
    const lines = await captureEmf(async () => {
      const publisher = startBacklogMetrics({
        intervalMs: 3_600_000,
        read: () => readBacklog(unreachable, deadLetters),
        onError: (e) => errors.push(e),
      });
      await publisher.publishNow();
      publisher.stop();
    });
    expect(lines).toEqual([]);
    expect(errors).toHaveLength(1);
    await unreachable.close().catch(() => undefined);
  });
});
