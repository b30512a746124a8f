import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { assessWorkerHealth, WorkerPhase, type WorkerHealthSignals } from '../../lib/worker/health';
import { serveMetrics, WorkerMetrics } from '../../lib/worker/metrics';

const running: WorkerHealthSignals = { phase: WorkerPhase.RUNNING, redisStatus: 'ready', fetching: true };

describe("the worker's health", () => {
  it('is healthy only while running, fetching jobs and connected to Redis', () => {
    expect(assessWorkerHealth(running).healthy).toBe(true);
    expect(assessWorkerHealth({ ...running, phase: WorkerPhase.STARTING }).healthy).toBe(false);
    expect(assessWorkerHealth({ ...running, phase: WorkerPhase.DRAINING }).healthy).toBe(false);
    expect(assessWorkerHealth({ ...running, redisStatus: 'reconnecting' }).healthy).toBe(false);
    expect(assessWorkerHealth({ ...running, fetching: false }).healthy).toBe(false);
  });

  describe('GET /health on the metrics port', () => {
    let signals = running;
    const metrics = new WorkerMetrics({ queueCounts: async () => ({}), deadLetters: async () => 0, breakerState: () => 0 });
    const server = serveMetrics(
      metrics,
      0,
      (error) => {
        throw error;
      },
      () => assessWorkerHealth(signals),
    );
    const url = async (path: string) => {
      if (!server.listening) await once(server, 'listening');
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
    };
    afterEach(() => {
      signals = running;
    });
    afterAll(() => server.close());

    it('answers 200 with the phase while the worker takes jobs', async () => {
      const response = await fetch(await url('/health'));
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ healthy: true, phase: 'RUNNING', redis: 'ready', fetching: true });
    });

    it('answers 503 while draining, and while Redis is away', async () => {
      signals = { ...running, phase: WorkerPhase.DRAINING };
      expect((await fetch(await url('/health'))).status).toBe(503);
      signals = { ...running, redisStatus: 'connecting' };
      const response = await fetch(await url('/health'));
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ healthy: false, redis: 'connecting' });
    });

    it('still serves /metrics, and 404 elsewhere', async () => {
      expect((await fetch(await url('/metrics'))).status).toBe(200);
      expect((await fetch(await url('/nope'))).status).toBe(404);
    });
  });
});
