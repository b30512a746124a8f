import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/local-services';
import { sampleEvent } from '../../scripts/sample-event';
import { runCommand, type RunningProcess } from '../support/processes';
import { getStatus, isolatedEnv, postEvent, startOffline, startWorker, waitForState } from '../support/stack';

/**
 * The whole pipeline with real processes: `serverless offline` (the emulated API Gateway and
 * Lambda), the worker process, the real Redis and the real Mongo-wire server.
 */
describe('the pipeline, end to end', () => {
  const env = isolatedEnv('pipeline', {
    ROUTING_LATENCY_MS: '100',
    JOB_ATTEMPTS: '3',
    BACKOFF_BASE_MS: '100',
    BACKOFF_MAX_MS: '400',
    // This file watches single events fail; the breaker has tests of its own.
    BREAKER_FAILURE_THRESHOLD: '1000',
  });
  let offline: RunningProcess;
  let baseUrl: string;
  let worker: RunningProcess | undefined;

  beforeAll(async () => {
    ({ process: offline, baseUrl } = await startOffline(env));
  });

  // Each test starts the workers it needs; none is left running for the next test, whatever the order.
  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
  });

  afterAll(async () => {
    await offline?.stop();
  });

  it('routes signed events posted to the emulated API Gateway and shows them ROUTED', async () => {
    const metricsPort = await freePort();
    worker = await startWorker({ ...env, METRICS_PORT: String(metricsPort) });
    const posted = await Promise.all(Array.from({ length: 20 }, () => postEvent(baseUrl)));
    for (const { response, json, event } of posted) {
      expect(response.status).toBe(202);
      expect(json).toMatchObject({ accepted: true, eventId: event.eventId, idempotencyKey: `dhl:${event.eventId}` });
      expect(response.headers.get('x-correlation-id')).toBe(json.correlationId);
    }
    for (const { event } of posted) {
      const view = await waitForState(baseUrl, event.eventId, 'ROUTED');
      expect(view).toMatchObject({ attempts: 1, source: 'dhl', routing: { lane: 'standard' } });
      expect(typeof (view.routing as { hub: string }).hub).toBe('string');
    }
    // The worker's Prometheus endpoint counted them.
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const routed = Number(/gateway_event_attempts_total\{outcome="routed"\} (\d+)/.exec(metrics)?.[1]);
    expect(routed).toBeGreaterThanOrEqual(20);
    expect(metrics).toContain('gateway_routing_seconds_bucket');
    expect(metrics).toMatch(/gateway_queue_jobs\{state="completed"\} \d+/);
    expect(metrics).toContain('gateway_routing_breaker_state 0');
  });

  it('shows an accepted event as QUEUED while no worker runs, and 404 for an unknown id', async () => {
    const { response, event } = await postEvent(baseUrl);
    expect(response.status).toBe(202);
    expect((await getStatus(baseUrl, event.eventId)).json).toMatchObject({ status: 'QUEUED', attempts: 0 });
    expect((await getStatus(baseUrl, 'no-such-event')).status).toBe(404);
    // Left queued: whichever test starts a worker next routes (or dead-letters) it along the way.
  });

  it('dead-letters an event the routing service always fails, then routes it after a replay', async () => {
    worker = await startWorker({ ...env, ROUTING_FAILURE_RATE: '1' });
    const { response, event } = await postEvent(baseUrl, sampleEvent({ source: 'fedex' }));
    expect(response.status).toBe(202);
    const dead = await waitForState(baseUrl, event.eventId, 'DEAD_LETTERED');
    expect(dead.attempts).toBe(3);
    expect(dead.attemptHistory).toHaveLength(3);
    expect((dead.attemptHistory as Array<{ error: string }>).every((a) => a.error === 'TransientRoutingError')).toBe(true);
    await worker.stop();

    // The cause is fixed: a healthy worker, then the operator's replay.
    worker = await startWorker(env);
    const dry = await runCommand('npx', ['serverless', 'invoke', 'local', '-f', 'replay', '--data', '{"limit":10,"dryRun":true}'], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(event.eventId);
    expect(dry.stdout).toContain('"dryRun": true');
    expect((await getStatus(baseUrl, event.eventId)).json.status).toBe('DEAD_LETTERED');

    const replay = await runCommand('npx', ['serverless', 'invoke', 'local', '-f', 'replay', '--data', '{"limit":10}'], env);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toContain(event.eventId);
    const routed = await waitForState(baseUrl, event.eventId, 'ROUTED');
    expect(routed).toMatchObject({ replayCount: 1, status: 'ROUTED' });
  });
});
