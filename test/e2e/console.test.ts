import { Redis } from 'ioredis';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ROUTING_FAILURE_RATE_FIELD, settingsKey } from '../../lib/routing/runtime-settings';
import { sampleEvent } from '../../scripts/sample-event';
import { keepFailedPage, launchChromium, openPage, pageReader, screenshot, SCREENSHOTS, signInToConsole } from '../support/console-browser';
import { waitFor, type RunningProcess } from '../support/processes';
import { getStatus, isolatedEnv, postEvent, postMany, startOffline, startWorker, waitForState } from '../support/stack';

const KEY = 'console-operator-key';
const XSS = '<script>alert(1)</script>';

/**
 * The operator console in a real headless Chromium, served by the real emulator, on the run's
 * real Redis and Mongo-wire server, with a real worker routing (and failing) the events.
 */
describe('the operator console', () => {
  const env = isolatedEnv('console', {
    // The screenshots' run routes slower, so a burst makes a visible backlog.
    ...(SCREENSHOTS ? { WORKER_CONCURRENCY: '10', ROUTING_LATENCY_MS: '200' } : { ROUTING_LATENCY_MS: '20' }),
    OPS_API_KEYS: KEY,
    JOB_ATTEMPTS: '2',
    BACKOFF_BASE_MS: '100',
    BACKOFF_MAX_MS: '200',
    BREAKER_FAILURE_THRESHOLD: '1000',
  });
  let offline: RunningProcess;
  let worker: RunningProcess;
  let baseUrl: string;
  let browser: Browser;
  let page: Page;
  let redis: Redis;
  const dialogs: string[] = [];
  const browserErrors: string[] = [];
  // Dead-lettered once, before the tests; each test reads or replays a source of its own, so no
  // test depends on what another did first.
  const lost = Array.from({ length: 4 }, () => sampleEvent({ source: 'acme', eventType: 'shipment.lost' })); // listed, never replayed
  const hostile = sampleEvent({
    source: 'evil',
    eventType: 'shipment.lost',
    payload: { shipmentId: 'SHP-HOSTILE', status: XSS, note: '<img src=x onerror="window.pwned=1">' },
  }); // read, never replayed
  const byFilter = Array.from({ length: 5 }, () => sampleEvent({ source: 'gls' })); // replayed by filter
  const others = Array.from({ length: 2 }, () => sampleEvent({ source: 'dhl' })); // one replayed by selection
  const deadLettered = [...lost, hostile, ...byFilter, ...others];
  const correlationIds = new Map<string, string>();

  // The page is read through locators (test/support/console-browser.ts), so no code typed against the DOM runs in the browser.
  const text = (selector: string) => pageReader(page).text(selector);
  const texts = (selector: string) => pageReader(page).texts(selector);
  const count = (selector: string) => pageReader(page).count(selector);
  const attributes = (selector: string, name: string) => pageReader(page).attributes(selector, name);
  const untilText = (selector: string, check: (value: string) => boolean, timeoutMs?: number) =>
    pageReader(page).untilText(selector, check, timeoutMs);
  const shot = (name: string) => screenshot(page, name);
  /** For the overview's screenshot only: two bursts the worker takes a few seconds to drain, so the charts have a shape. */
  const trafficForTheCharts = async () => {
    for (let burst = 0; burst < 2; burst += 1) {
      await postMany(
        baseUrl,
        Array.from({ length: 400 }, () => sampleEvent({ source: 'ups' })),
      );
      await new Promise((done) => setTimeout(done, 20_000));
    }
    await untilText('#queue-counts [data-count="waiting"]', (value) => value === '0', 60_000);
  };
  const routingFails = async (rate: '1' | null) => {
    if (rate) await redis.hset(settingsKey(env.QUEUE_PREFIX!), ROUTING_FAILURE_RATE_FIELD, rate);
    else await redis.hdel(settingsKey(env.QUEUE_PREFIX!), ROUTING_FAILURE_RATE_FIELD);
    // The worker reads its run-time settings every second.
    await new Promise((done) => setTimeout(done, 1500));
  };
  const filterBySource = async (source: string) => {
    await page.click('#nav button[data-view="dead-letters"]');
    await page.fill('#dlq-filter input[name="source"]', source);
    await page.click('#dlq-filter button[type="submit"]');
    await page.waitForSelector('#dlq-table[aria-busy="false"]');
  };

  beforeAll(async () => {
    redis = new Redis(env.REDIS_URL!);
    ({ process: offline, baseUrl } = await startOffline(env));
    worker = await startWorker(env);
    browser = await launchChromium();

    await routingFails('1');
    for (const event of deadLettered) {
      const { response, json } = await postEvent(baseUrl, event);
      expect(response.status).toBe(202);
      correlationIds.set(event.eventId, String(json.correlationId));
    }
    for (const event of deadLettered) await waitForState(baseUrl, event.eventId, 'DEAD_LETTERED');
    await routingFails(null);
  });

  // Each test has a page of its own, not signed in.
  beforeEach(async () => {
    page = await openPage(browser, { dialogs, errors: browserErrors });
  });

  // A failed step leaves the page as it was in tmp/, to look at.
  afterEach(async (context) => {
    if (context.task.result?.state === 'fail' && page) await keepFailedPage(page, context.task.name);
    await page?.close();
  });

  const signIn = () => signInToConsole(page, baseUrl, KEY);
  /** The gateway's own counts, as the operator API gives them. */
  const stats = async () => {
    const response = await fetch(`${baseUrl}/v1/ops/stats`, { headers: { 'x-api-key': KEY } });
    return (await response.json()) as { ledger: Record<string, number>; deadLetterQueue: { pending: number } };
  };

  afterAll(async () => {
    await browser?.close();
    await worker?.stop();
    await offline?.stop();
    redis?.disconnect();
  });

  it('serves the page with a strict Content-Security-Policy and nothing from another origin', async () => {
    const response = await fetch(`${baseUrl}/ops`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = response.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    const html = await response.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/\s(src|href)="(https?:)?\/\//);
    const script = html.match(/src="(\/ops\/console\.js\?v=[0-9a-f]+)"/)![1]!;
    const asset = await fetch(`${baseUrl}${script}`);
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect((await fetch(`${baseUrl}/ops`, { headers: { 'if-none-match': response.headers.get('etag')! } })).status).toBe(304);
    expect((await fetch(`${baseUrl}/ops/secrets.txt`)).status).toBe(404);
  });

  it('refuses a wrong key with a clear message, then signs in with the operator key', async () => {
    await page.goto(`${baseUrl}/ops`);
    await page.fill('#operator-key', 'not-the-key');
    await page.click('#sign-in-form button[type="submit"]');
    expect(await text('#sign-in-error:not(:empty)')).toBe('That key was refused. Check it and try again.');
    expect(await page.isVisible('#overview')).toBe(false);

    await page.fill('#operator-key', KEY);
    await page.click('#sign-in-form button[type="submit"]');
    await page.waitForSelector('#overview', { state: 'visible' });
    expect(await page.isVisible('#sign-in')).toBe(false);
    expect(page.url()).toBe(`${baseUrl}/ops`);
    expect(page.url()).not.toContain(KEY);
  });

  it('shows the counts move as events are posted', async () => {
    await signIn();
    const before = await stats();
    const routedBefore = before.ledger.ROUTED ?? 0;
    const events = Array.from({ length: 6 }, () => sampleEvent({ source: 'ups' }));
    expect((await postMany(baseUrl, events)).every((s) => s === 202)).toBe(true);
    for (const event of events) await waitForState(baseUrl, event.eventId, 'ROUTED');
    // The page refreshes by itself: no reload, no click.
    await untilText('#ledger-counts [data-count="ROUTED"]', (value) => value === String(routedBefore + 6));
    // Attached, not "visible": a flat line has no height.
    await page.waitForSelector('#backlog-chart polyline', { state: 'attached' });
    await page.waitForSelector('#throughput-chart polyline', { state: 'attached' });
    expect(await text('#dead-letters-pending')).toBe(String((await stats()).deadLetterQueue.pending));
  }, 120_000);

  it(
    'shows the events routing failed as dead letters, finds them by filter, and shows an attempt history',
    async () => {
      await signIn();
      const { pending } = (await stats()).deadLetterQueue;
      expect(pending).toBeGreaterThanOrEqual(lost.length + 1);
      await untilText('#dead-letters-pending', (value) => value === String(pending));
      expect(await text('#dead-letter-reasons [data-count="RETRIES_EXHAUSTED"]')).toBe(String(pending));
      if (SCREENSHOTS) await trafficForTheCharts();
      await shot('overview');

      await filterBySource('acme');
      const ids = await attributes('#dlq-table tbody tr', 'data-event-id');
      expect(ids.sort()).toEqual(lost.map((e) => e.eventId).sort());
      expect(await text('#dlq-reasons [data-count="RETRIES_EXHAUSTED"]')).toBe('4');
      expect(await text('#dlq-summary')).toBe('4 matching PENDING');
      await shot('dead-letters');

      // Cursor paging, two rows a page: a page size the form does not offer, so four rows take two pages.
      await page.evaluate(`document.querySelector('#dlq-filter select[name="limit"]').append(new Option('2', '2', true, true))`);
      await page.click('#dlq-filter button[type="submit"]');
      await page.waitForSelector('#dlq-table[aria-busy="false"]');
      const seen = new Set<string>();
      for (let pageNumber = 1; ; pageNumber += 1) {
        await untilText('#dlq-page', (value) => value.startsWith(`page ${pageNumber},`));
        for (const id of await attributes('#dlq-table tbody tr', 'data-event-id')) seen.add(id);
        if (await page.isDisabled('#dlq-next')) break;
        expect(await count('#dlq-table tbody tr')).toBe(2);
        await page.click('#dlq-next');
      }
      expect([...seen].sort()).toEqual(ids.sort());
      await page.selectOption('#dlq-filter select[name="limit"]', '25');
      await page.click('#dlq-filter button[type="submit"]');
      await page.waitForSelector('#dlq-table[aria-busy="false"]');

      const target = lost[0]!;
      await page.click(`#dlq-table tr[data-event-id="${target.eventId}"] button.link`);
      await page.waitForSelector('#event-timeline');
      const steps = await texts('#event-timeline li .what');
      const messages = await texts('#event-timeline li .message');
      expect(steps).toEqual([
        'Received',
        'Attempt 1 failed: TransientRoutingError',
        'Attempt 2 failed: TransientRoutingError',
        'Dead-lettered: RETRIES_EXHAUSTED',
      ]);
      // Each failure with its message, and the dead letter's: the simulated routing service's own words.
      expect(messages).toHaveLength(3);
      for (const message of messages) expect(message.trim()).not.toBe('');
      expect(await text('#event-view dd[data-fact="Correlation id"]')).toBe(correlationIds.get(target.eventId));
      expect(await text('#event-view dd[data-fact="Status"]')).toBe('DEAD_LETTERED');
      expect(await text('#event-payload')).toContain(target.payload.shipmentId);
      await shot('event');
    },
    SCREENSHOTS ? 240_000 : 120_000,
  );

  it('shows a payload holding markup as text, and runs none of it', async () => {
    await signIn();
    await page.click('#nav button[data-view="event"]');
    await page.fill('#event-id', hostile.eventId);
    await page.click('#event-lookup button[type="submit"]');
    await untilText('#event-view h3', (value) => value === hostile.eventId);
    const payload = await text('#event-payload');
    expect(payload).toContain(XSS);
    expect(payload).toContain('<img src=x onerror=');
    expect(await count('#event-detail script, #event-detail img')).toBe(0);
    await new Promise((done) => setTimeout(done, 500));
    expect(await page.evaluate('window.pwned')).toBeUndefined();
    expect(dialogs).toEqual([]);
  });

  it('changes nothing in a dry run, then replays after a confirmation, and the events are routed', async () => {
    await signIn();
    await filterBySource('gls');
    await page.check('input[name="replay-scope"][value="filter"]');
    await page.fill('#replay-rate', '20');
    await page.click('#dry-run');
    expect(await text('#dry-run-summary')).toBe(
      'Dry run (all matching the filter): 5 dead letters would be replayed; nothing was changed.',
    );
    for (const event of byFilter) expect((await getStatus(baseUrl, event.eventId)).json.status).toBe('DEAD_LETTERED');
    const pending = await fetch(`${baseUrl}/v1/ops/dlq?source=gls`, { headers: { 'x-api-key': KEY } });
    expect(((await pending.json()) as { items: unknown[] }).items).toHaveLength(5);

    await page.click('#replay');
    await page.waitForSelector('#confirm-replay[open]');
    expect(await text('#confirm-text')).toContain(
      '5 dead letters (all matching the filter) will go back to the main queue at 20 events per second',
    );
    await page.click('#confirm-button');
    await untilText('#replay-summary', (value) => value.startsWith('Replay done: 5 replayed, 0 skipped'));
    expect(await page.getAttribute('#replay-bar', 'value')).toBe('5');
    await waitFor(
      'the report to show every replayed event ROUTED',
      async () => {
        const statuses = await texts('#replay-events [data-status-of]');
        return statuses.length === 5 && statuses.every((status) => status === 'ROUTED') ? statuses : undefined;
      },
      90_000,
    );
    for (const event of byFilter)
      expect((await getStatus(baseUrl, event.eventId)).json).toMatchObject({ status: 'ROUTED', replayCount: 1 });
    // The filter held: other sources' dead letters were not touched.
    for (const event of [...lost, hostile]) expect((await getStatus(baseUrl, event.eventId)).json.status).toBe('DEAD_LETTERED');
  }, 120_000);

  it('replays selected rows, and looks an event up by id with its status and replay history', async () => {
    await signIn();
    await filterBySource('dhl');
    await page.check(`#dlq-table tr[data-event-id="${others[0]!.eventId}"] input[type="checkbox"]`);
    await page.check('input[name="replay-scope"][value="selected"]');
    await page.click('#dry-run');
    expect(await text('#dry-run-summary')).toBe('Dry run (1 selected): 1 dead letter would be replayed; nothing was changed.');
    await page.click('#replay');
    await page.click('#confirm-button');
    await untilText('#replay-summary', (value) => value.startsWith('Replay done: 1 replayed, 0 skipped'));
    await waitForState(baseUrl, others[0]!.eventId, 'ROUTED');
    expect((await getStatus(baseUrl, others[1]!.eventId)).json.status).toBe('DEAD_LETTERED');

    await page.click('#nav button[data-view="event"]');
    await page.fill('#event-id', others[0]!.eventId);
    await page.click('#event-lookup button[type="submit"]');
    await untilText('#event-view dd[data-fact="Status"]', (value) => value === 'ROUTED');
    expect(await count('#event-replays tbody tr')).toBe(1);
    const steps = await texts('#event-timeline .what');
    expect(steps.slice(-2)).toEqual(['Replayed', 'Routed']);

    await page.fill('#event-id', 'no-such-event');
    await page.click('#event-lookup button[type="submit"]');
    expect(await text('#event-error:not(:empty)')).toBe('No event with id no-such-event is known to the gateway.');
  }, 120_000);

  it('signs out when the key stops working, and never logs the key or breaks its own policy', async () => {
    await signIn();
    await page.evaluate(`sessionStorage.setItem('gateway-console-key', 'rotated-out')`);
    await page.reload();
    expect(await text('#sign-in-error:not(:empty)')).toBe('That key was refused. Check it and try again.');
    expect(await page.evaluate(`sessionStorage.getItem('gateway-console-key')`)).toBeNull();
    expect(offline.output()).not.toContain(KEY);
    expect(worker.output()).not.toContain(KEY);
    expect(browserErrors.filter((message) => /Content Security Policy|Refused/i.test(message))).toEqual([]);
    expect(browserErrors.filter((message) => !/status of 40[14]/.test(message))).toEqual([]);
  });
});
