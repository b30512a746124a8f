import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { freePort } from '../../scripts/local-services';
import { sampleEvent, signedHeaders } from '../../scripts/sample-event';
import type { ShipmentEventInput } from '../../lib/events/schema';
import { runScript, waitFor, type RunningProcess } from './processes';

export const TEST_SECRET = 'test-secret-current';
/** The read-only key every isolated gateway accepts on its (closed) status route. */
export const TEST_STATUS_KEY = 'test-status-key';

/**
 * The environment of one isolated gateway: the run's real Redis and Mongo-wire server, with a
 * queue prefix and database of its own, so tests never see each other's events.
 */
export function isolatedEnv(name: string, extra: Record<string, string> = {}): Record<string, string> {
  const id = `${name}-${randomUUID().slice(0, 8)}`.replace(/[^A-Za-z0-9_-]/g, '_');
  return {
    REDIS_URL: inject('redisUrl'),
    MONGO_URL: inject('mongoUrl'),
    MONGO_DB: `test_${id.replace(/-/g, '_')}`,
    QUEUE_PREFIX: `t_${id}`,
    WEBHOOK_SECRETS: TEST_SECRET,
    // The status route closed, as in every cloud stage: the tests read it with a status key.
    STATUS_API_KEYS: TEST_STATUS_KEY,
    STATUS_ROUTE_OPEN: 'false',
    POWERTOOLS_LOG_LEVEL: 'WARN',
    // Several workers run in one test run: no fixed metrics port unless a test asks for one.
    METRICS_PORT: '0',
    ...extra,
  };
}

/**
 * `serverless offline` as a user runs it (`npm run offline`), on free ports. `args` go to the
 * CLI after the script's own (`--stage rehearsal`, `--param=name=value`).
 */
export async function startOffline(
  env: Record<string, string>,
  args: string[] = [],
): Promise<{ process: RunningProcess; baseUrl: string }> {
  const httpPort = await freePort();
  // Two calls can name the same port once the first probe has closed: the emulator then fails to listen twice.
  let lambdaPort = await freePort();
  while (lambdaPort === httpPort) lambdaPort = await freePort();
  const process = runScript('offline', { ...env, HTTP_PORT: String(httpPort), OFFLINE_LAMBDA_PORT: String(lambdaPort) }, args);
  const baseUrl = `http://127.0.0.1:${httpPort}`;
  try {
    // waitFor retries whatever the check throws, so an exit is returned, not thrown; each probe has
    // its own timeout; and the whole wait stays below the 120 s hook timeout, so a start that fails
    // or hangs is reported here, with the emulator's output.
    const state = await waitFor(
      'serverless offline to answer /health',
      async () => {
        if (process.child.exitCode !== null) return 'exited';
        const response = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(5000) });
        return response.ok ? 'up' : undefined;
      },
      100_000,
      500,
    );
    if (state === 'exited') throw new Error(`offline exited with code ${process.child.exitCode}`);
  } catch (error) {
    await process.stop('SIGKILL');
    throw new Error(`${String(error)}\n--- offline output ---\n${process.output().slice(-3000)}`, { cause: error });
  }
  return { process, baseUrl };
}

/** The worker as a user runs it (`npm run worker`), waiting until it has connected. */
export async function startWorker(env: Record<string, string>): Promise<RunningProcess> {
  // INFO, so the start-up line this waits for is printed.
  const worker = runScript('worker', { ...env, POWERTOOLS_LOG_LEVEL: 'INFO' });
  const state = await waitFor(
    'the worker to start',
    async () => {
      if (worker.child.exitCode !== null) return 'exited';
      return worker.output().includes('worker started') ? 'started' : undefined;
    },
    60_000,
  );
  // Returned, not thrown, by the check: waitFor would retry a throw until its deadline.
  if (state === 'exited') throw new Error(`worker exited: ${worker.output().slice(-2000)}`);
  return worker;
}

/** POSTs a signed event the way a courier would. */
export async function postEvent(baseUrl: string, event: ShipmentEventInput = sampleEvent(), secret = TEST_SECRET) {
  const body = JSON.stringify(event);
  const response = await fetch(`${baseUrl}/v1/events`, { method: 'POST', headers: signedHeaders(secret, body), body });
  return { response, json: (await response.json()) as Record<string, unknown>, event };
}

/** Reads an event's state with a key (the isolated gateway's status key unless told otherwise; null for none). */
export async function getStatus(baseUrl: string, eventId: string, key: string | null = TEST_STATUS_KEY) {
  const response = await fetch(`${baseUrl}/v1/events/${encodeURIComponent(eventId)}`, { headers: key ? { 'x-api-key': key } : {} });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/** Waits until the status endpoint shows the event in `state`, and returns that view. */
export async function waitForState(baseUrl: string, eventId: string, state: string, timeoutMs = 60_000) {
  return waitFor(
    `event ${eventId} to be ${state}`,
    async () => {
      const { json } = await getStatus(baseUrl, eventId);
      return json.status === state ? json : undefined;
    },
    timeoutMs,
  );
}

/** POSTs every event with `concurrency` requests in flight; returns the replies' status codes. */
export async function postMany(baseUrl: string, events: ShipmentEventInput[], concurrency = 50): Promise<number[]> {
  const statuses: number[] = new Array(events.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < events.length) {
        const index = next++;
        const { response } = await postEvent(baseUrl, events[index]);
        statuses[index] = response.status;
      }
    }),
  );
  return statuses;
}

/** `count` events spread over `shipments` shipments, each shipment's events in time order. */
export function shipmentEvents(count: number, shipments: number, prefix: string): ShipmentEventInput[] {
  const start = Date.UTC(2026, 10, 24, 8);
  return Array.from({ length: count }, (_, i) =>
    sampleEvent({
      eventId: `${prefix}-${i}`,
      occurredAt: new Date(start + i * 1000).toISOString(),
      payload: { shipmentId: `${prefix}-S${i % shipments}`, status: `STEP_${Math.floor(i / shipments)}` },
    }),
  );
}
