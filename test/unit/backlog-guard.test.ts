import { describe, expect, it } from 'vitest';
import { BacklogFullError } from '../../lib/errors';
import { BacklogGuard } from '../../lib/ingest/backlog-guard';

function guardWith(sizes: number[], cacheMs = 1000) {
  let clock = 0;
  let reads = 0;
  const guard = new BacklogGuard({
    maxBacklog: 10,
    cacheMs,
    retryAfterSeconds: 7,
    readBacklog: async () => sizes[Math.min(reads++, sizes.length - 1)]!,
    now: () => clock,
  });
  return { guard, reads: () => reads, advance: (ms: number) => (clock += ms) };
}

describe('backpressure', () => {
  it('refuses with Retry-After once the backlog reaches its bound', async () => {
    const { guard } = guardWith([10]);
    await expect(guard.check()).rejects.toBeInstanceOf(BacklogFullError);
    await expect(guard.check()).rejects.toMatchObject({ retryAfterSeconds: 7 });
  });

  it('reads the backlog once per interval, however many requests arrive', async () => {
    const { guard, reads, advance } = guardWith([3, 12]);
    await Promise.all(Array.from({ length: 100 }, () => guard.check()));
    expect(reads()).toBe(1);
    advance(999);
    await guard.check();
    expect(reads()).toBe(1);
    advance(1);
    await expect(guard.check()).rejects.toBeInstanceOf(BacklogFullError);
    expect(reads()).toBe(2);
  });

  it('lets requests through when the backlog cannot be read; the enqueue decides then', async () => {
    const guard = new BacklogGuard({
      maxBacklog: 1,
      cacheMs: 0,
      retryAfterSeconds: 1,
      readBacklog: () => Promise.reject(new Error('down')),
    });
    await expect(guard.check()).resolves.toBeUndefined();
  });
});
