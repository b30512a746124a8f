import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  BACKLOG_METRICS,
  backlogSize,
  publishBacklog,
  readBacklog,
  startBacklogMetrics,
  type BacklogReading,
} from '../../lib/worker/backlog-metrics';
import { captureEmf } from '../support/emf';

const reading: BacklogReading = { backlog: 7, oldestWaitingAgeSeconds: 42, deadLettersPending: 2 };
const newMetrics = () => new Metrics({ namespace: BACKLOG_METRICS.namespace, serviceName: BACKLOG_METRICS.serviceName });

describe('the worker backlog metrics', () => {
  afterEach(() => vi.useRealTimers());

  it('counts waiting, prioritized and delayed jobs as backlog, not active or finished ones', () => {
    expect(backlogSize({ waiting: 3, prioritized: 2, delayed: 4, active: 50, completed: 900, failed: 1 })).toBe(9);
    expect(backlogSize({})).toBe(0);
  });

  it('reads the oldest waiting job age the way the operator stats do', async () => {
    const enqueuedAt = Date.UTC(2026, 0, 1, 12, 0, 0);
    const events = {
      getJobCounts: async () => ({ waiting: 1, prioritized: 0, delayed: 1 }),
      getJobs: async () => [{ timestamp: enqueuedAt }],
    };
    const result = await readBacklog(events as never, { pendingCount: async () => 3 }, enqueuedAt + 90_400);
    expect(result).toEqual({ backlog: 2, oldestWaitingAgeSeconds: 90, deadLettersPending: 3 });
  });

  it('publishes one EMF line in the CourierEventGateway namespace with service=worker and the three alarm metrics', async () => {
    const [line, ...more] = await captureEmf(() => publishBacklog(newMetrics(), reading));
    expect(more).toHaveLength(0);
    expect(line?._aws.CloudWatchMetrics).toEqual([
      {
        Namespace: 'CourierEventGateway',
        Dimensions: [['service']],
        Metrics: [
          { Name: 'Backlog', Unit: 'Count' },
          { Name: 'OldestWaitingAgeSeconds', Unit: 'Seconds' },
          { Name: 'DeadLettersPending', Unit: 'Count' },
        ],
      },
    ]);
    expect(line).toMatchObject({ service: 'worker', Backlog: 7, OldestWaitingAgeSeconds: 42, DeadLettersPending: 2 });
  });

  it('publishes at start and then once per interval', async () => {
    vi.useFakeTimers();
    const read = vi.fn(async () => reading);
    const metrics = newMetrics();
    const published = vi.spyOn(metrics, 'publishStoredMetrics').mockReturnValue(metrics);
    const publisher = startBacklogMetrics({ intervalMs: 60_000, read, onError: () => undefined, metrics });
    await vi.advanceTimersByTimeAsync(0);
    expect(published).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(180_000);
    expect(read).toHaveBeenCalledTimes(4);
    expect(published).toHaveBeenCalledTimes(4);
    publisher.stop();
  });

  it('reports a failed reading, publishes nothing for it and tries again at the next interval', async () => {
    vi.useFakeTimers();
    const read = vi.fn<() => Promise<BacklogReading>>().mockRejectedValueOnce(new Error('Redis is down')).mockResolvedValue(reading);
    const onError = vi.fn();
    const metrics = newMetrics();
    const published = vi.spyOn(metrics, 'publishStoredMetrics').mockReturnValue(metrics);
    const publisher = startBacklogMetrics({ intervalMs: 1000, read, onError, metrics });
    await vi.advanceTimersByTimeAsync(0);
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ message: 'Redis is down' }));
    expect(published).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1000);
    expect(published).toHaveBeenCalledTimes(1);
    publisher.stop();
  });

  it('does not start a reading while the previous one is still running', async () => {
    vi.useFakeTimers();
    let release: (value: BacklogReading) => void = () => undefined;
    const read = vi.fn(() => new Promise<BacklogReading>((done) => (release = done)));
    const publisher = startBacklogMetrics({ intervalMs: 1000, read, onError: () => undefined, metrics: newMetrics() });
    await vi.advanceTimersByTimeAsync(5000);
    expect(read).toHaveBeenCalledTimes(1);
    publisher.stop();
    release(reading);
  });

  it('stops reading once stopped, and drops a reading that lands after stop', async () => {
    vi.useFakeTimers();
    let release: (value: BacklogReading) => void = () => undefined;
    const read = vi.fn(() => new Promise<BacklogReading>((done) => (release = done)));
    const metrics = newMetrics();
    const published = vi.spyOn(metrics, 'publishStoredMetrics').mockReturnValue(metrics);
    const publisher = startBacklogMetrics({ intervalMs: 1000, read, onError: () => undefined, metrics });
    publisher.stop();
    publisher.stop();
    release(reading);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(read).toHaveBeenCalledTimes(1);
    expect(published).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('publishes nothing and sets no timer when the interval is 0', async () => {
    vi.useFakeTimers();
    const read = vi.fn(async () => reading);
    startBacklogMetrics({ intervalMs: 0, read, onError: () => undefined, metrics: newMetrics() });
    await vi.advanceTimersByTimeAsync(600_000);
    expect(read).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });
});
