import { describe, expect, it } from 'vitest';
import { BacklogFullError, QueueUnavailableError, ValidationError } from '../../lib/errors';
import type { QueuedEvent } from '../../lib/events/schema';
import { acceptEvent, dryRunEvent } from '../../lib/ingest/accept-event';
import { sampleEvent } from '../../scripts/sample-event';

function fakeQueue(behaviour: 'ok' | 'duplicate' | 'hang' | 'fail' = 'ok') {
  const added: QueuedEvent[] = [];
  return {
    added,
    queue: {
      enqueue: async (item: QueuedEvent) => {
        if (behaviour === 'hang') return new Promise<never>(() => undefined);
        if (behaviour === 'fail') throw new Error('ECONNREFUSED');
        added.push(item);
        return { jobId: 'j', duplicate: behaviour === 'duplicate' };
      },
      findQueuedJobId: async () => null,
      backlog: async () => 0,
      isHeld: async () => {
        if (behaviour === 'hang') return new Promise<never>(() => undefined);
        if (behaviour === 'fail') throw new Error('ECONNREFUSED');
        return behaviour === 'duplicate';
      },
    },
  };
}

const open = { check: async () => undefined };
const request = (body: unknown, extra = {}) => ({ body, correlationId: 'c-1', receivedAt: new Date('2026-11-24T10:00:00Z'), ...extra });

describe('accepting an event', () => {
  it('queues the validated event with its correlation id and returns the receipt', async () => {
    const { queue, added } = fakeQueue();
    const event = sampleEvent();
    const receipt = await acceptEvent(request(event), { queue, backlog: open, enqueueTimeoutMs: 100 });
    expect(receipt).toEqual({
      accepted: true,
      eventId: event.eventId,
      idempotencyKey: `dhl:${event.eventId}`,
      correlationId: 'c-1',
      receivedAt: '2026-11-24T10:00:00.000Z',
      duplicate: false,
    });
    expect(added[0]).toMatchObject({ correlationId: 'c-1', event: { eventId: event.eventId } });
  });

  it('refuses an invalid event before touching the queue', async () => {
    const { queue, added } = fakeQueue();
    await expect(acceptEvent(request({ eventId: 1 }), { queue, backlog: open, enqueueTimeoutMs: 100 })).rejects.toBeInstanceOf(
      ValidationError,
    );
    expect(added).toHaveLength(0);
  });

  it('answers 503-worthy errors when the queue hangs or fails, never a receipt', async () => {
    for (const behaviour of ['hang', 'fail'] as const) {
      const { queue } = fakeQueue(behaviour);
      await expect(acceptEvent(request(sampleEvent()), { queue, backlog: open, enqueueTimeoutMs: 50 })).rejects.toBeInstanceOf(
        QueueUnavailableError,
      );
    }
  });

  it('passes backpressure on as such, and queues nothing', async () => {
    const { queue, added } = fakeQueue();
    const full = { check: async () => Promise.reject(new BacklogFullError(5)) };
    await expect(acceptEvent(request(sampleEvent()), { queue, backlog: full, enqueueTimeoutMs: 100 })).rejects.toBeInstanceOf(
      BacklogFullError,
    );
    expect(added).toHaveLength(0);
  });

  it('uses the webhook id as idempotency key only when the body has none', async () => {
    const { queue } = fakeQueue();
    const { idempotencyKey: _k, ...bare } = sampleEvent();
    const keyed = await acceptEvent(request(bare, { defaultIdempotencyKey: 'msg_1' }), { queue, backlog: open, enqueueTimeoutMs: 100 });
    expect(keyed.idempotencyKey).toBe('msg_1');
    const own = await acceptEvent(request({ ...bare, idempotencyKey: 'mine' }, { defaultIdempotencyKey: 'msg_1' }), {
      queue,
      backlog: open,
      enqueueTimeoutMs: 100,
    });
    expect(own.idempotencyKey).toBe('mine');
  });

  it('reports a duplicate as a receipt that says so', async () => {
    const { queue } = fakeQueue('duplicate');
    expect((await acceptEvent(request(sampleEvent()), { queue, backlog: open, enqueueTimeoutMs: 100 })).duplicate).toBe(true);
  });
});

describe('a dry run of an event (?dryRun=true)', () => {
  it('answers what a real send would, and queues nothing', async () => {
    const { queue, added } = fakeQueue();
    const event = sampleEvent();
    const result = await dryRunEvent(request(event), { queue, enqueueTimeoutMs: 100 });
    expect(result).toEqual({
      dryRun: true,
      valid: true,
      eventId: event.eventId,
      idempotencyKey: `dhl:${event.eventId}`,
      correlationId: 'c-1',
      duplicate: false,
    });
    expect(added).toHaveLength(0);
  });

  it('says when the key is already held, so a real send would be absorbed', async () => {
    const { queue } = fakeQueue('duplicate');
    expect((await dryRunEvent(request(sampleEvent()), { queue, enqueueTimeoutMs: 100 })).duplicate).toBe(true);
  });

  it("refuses an invalid event, or one claiming another source than its route's, as a real send is", async () => {
    const { queue } = fakeQueue();
    await expect(dryRunEvent(request({ eventId: 1 }), { queue, enqueueTimeoutMs: 100 })).rejects.toBeInstanceOf(ValidationError);
    await expect(
      dryRunEvent(request(sampleEvent({ source: 'fedex' }), { routeSource: 'dhl' }), { queue, enqueueTimeoutMs: 100 }),
    ).rejects.toMatchObject({ issues: [{ path: 'source' }] });
  });

  it('answers 503-worthy errors when Redis hangs or fails', async () => {
    for (const behaviour of ['hang', 'fail'] as const) {
      const { queue } = fakeQueue(behaviour);
      await expect(dryRunEvent(request(sampleEvent()), { queue, enqueueTimeoutMs: 50 })).rejects.toBeInstanceOf(QueueUnavailableError);
    }
  });
});
