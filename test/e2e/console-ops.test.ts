import { randomUUID } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { keyIdOf } from '../../lib/ops/audit-trail';
import { sampleEvent } from '../../scripts/sample-event';
import { keepFailedPage, launchChromium, openPage, pageReader, screenshot, signInToConsole } from '../support/console-browser';
import { waitFor, type RunningProcess } from '../support/processes';
import { getStatus, isolatedEnv, postEvent, postMany, startOffline, startWorker, waitForState } from '../support/stack';

const KEY = 'console-ops-operator-key';
/** Markup that would run if the page parsed it as HTML (a `<script>` put through innerHTML does not run; this does). */
const XSS = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>';

/**
 * The console's operator pages in a real headless Chromium, served by the real emulator, on the
 * run's real Redis and Mongo-wire server, with a real worker: the Events page (search, pages, a
 * 400 named by field, a row opening the event), pause and resume with the banner on every page,
 * the Audit page, and re-routes from a search and from one event.
 */
describe('the operator console’s events, pauses, audit and re-routes', () => {
  const env = isolatedEnv('console-ops', {
    OPS_API_KEYS: KEY,
    ROUTING_LATENCY_MS: '20',
    JOB_ATTEMPTS: '2',
    BACKOFF_BASE_MS: '100',
    BACKOFF_MAX_MS: '200',
  });
  let offline: RunningProcess;
  let worker: RunningProcess;
  let baseUrl: string;
  let browser: Browser;
  let page: Page;
  let read: ReturnType<typeof pageReader>;
  const browserErrors: string[] = [];
  const dialogs: string[] = [];

  // Routed before the tests; each test reads a shipment or source of its own.
  const shipmentId = `SHP-CONSOLE-${randomUUID().slice(0, 8)}`;
  const ofShipment = Array.from({ length: 5 }, (_, i) =>
    sampleEvent({
      source: 'acme',
      payload: { shipmentId, status: `STEP_${i}` },
      occurredAt: new Date(Date.UTC(2026, 0, 1, 8, i)).toISOString(),
    }),
  );
  const noise = Array.from({ length: 3 }, () => sampleEvent({ source: 'acme' }));
  const hostile = sampleEvent({
    source: 'evil',
    eventType: XSS,
    payload: { shipmentId: `SHP-XSS-${randomUUID().slice(0, 8)}`, status: 'IN_TRANSIT' },
  });
  const toReroute = Array.from({ length: 3 }, () => sampleEvent({ source: 'reroutes' }));

  const api = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  };
  const signIn = () => signInToConsole(page, baseUrl, KEY);
  const open = async (view: string) => {
    await page.click(`#nav button[data-view="${view}"]`);
    await page.waitForSelector(`#${view}`, { state: 'visible' });
  };
  /** A `datetime-local` value; the page runs in UTC, so an ISO time's first 19 characters. */
  const local = (at: Date) => at.toISOString().slice(0, 19);
  const search = async (fields: Record<string, string>, { limit, status }: { limit?: string; status?: string } = {}) => {
    await open('events');
    for (const [name, value] of Object.entries(fields)) await page.fill(`#events-filter [name="${name}"]`, value);
    if (status !== undefined) await page.selectOption('#events-filter select[name="status"]', status);
    if (limit) {
      // A page size the form does not offer, so a few events take several pages.
      await page.evaluate(
        `document.querySelector('#events-filter select[name="limit"]').append(new Option('${limit}', '${limit}', true, true))`,
      );
    }
    await page.click('#events-filter button[type="submit"]');
    await page.waitForSelector('#events-table[aria-busy="false"]');
  };

  beforeAll(async () => {
    ({ process: offline, baseUrl } = await startOffline(env));
    worker = await startWorker(env);
    browser = await launchChromium();
    // One at a time, so the shipment's events are received in order.
    for (const event of ofShipment) expect((await postEvent(baseUrl, event)).response.status).toBe(202);
    expect(await postMany(baseUrl, [...noise, hostile, ...toReroute])).toEqual(Array(noise.length + 1 + toReroute.length).fill(202));
    for (const event of [...ofShipment, ...noise, hostile, ...toReroute]) await waitForState(baseUrl, event.eventId, 'ROUTED');
  });

  // Each test has a page of its own, not signed in, in UTC (the time fields are filled in UTC).
  beforeEach(async () => {
    page = await openPage(browser, { dialogs, errors: browserErrors }, 'UTC');
    read = pageReader(page);
  });

  // Every page keeps to its own policy, and shows no error but the 400s a test asks for.
  afterEach(async (context) => {
    if (context.task.result?.state === 'fail' && page) await keepFailedPage(page, context.task.name);
    await page?.close();
    const errors = browserErrors.splice(0);
    expect(dialogs.splice(0)).toEqual([]);
    expect(errors.filter((message) => /Content Security Policy|Refused/i.test(message))).toEqual([]);
    expect(errors.filter((message) => !/status of 400/.test(message))).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await worker?.stop();
    await offline?.stop();
  });

  it('finds a shipment’s events on the Events page, newest first, a page at a time, and a row opens the event', async () => {
    await signIn();
    await search({ shipmentId });
    const newestFirst = ofShipment.map((e) => e.eventId).reverse();
    expect(await read.attributes('#events-table tbody tr', 'data-event-id')).toEqual(newestFirst);
    expect(await read.text('#events-summary')).toBe('5 events matching');
    expect(await read.text('#events-counts [data-count="ROUTED"]')).toBe('5');
    expect(await read.texts('#events-table tbody td[data-status]')).toEqual(Array(5).fill('ROUTED'));
    await screenshot(page, 'events');

    // Two a page: three pages, then "next" is off.
    await search({ shipmentId }, { limit: '2' });
    const seen: string[] = [];
    for (let pageNumber = 1; ; pageNumber += 1) {
      await read.untilText('#events-page', (value) => value.startsWith(`page ${pageNumber},`));
      seen.push(...(await read.attributes('#events-table tbody tr', 'data-event-id')));
      if (await page.isDisabled('#events-next')) break;
      expect(await read.count('#events-table tbody tr')).toBe(2);
      await page.click('#events-next');
    }
    expect(seen).toEqual(newestFirst);
    expect(await read.text('#events-page')).toBe('page 3, 1 shown');
    await page.click('#events-prev');
    await read.untilText('#events-page', (value) => value === 'page 2, 2 shown');

    // A click anywhere on the row opens the event view.
    const target = ofShipment[2]!;
    await page.click(`#events-table tr[data-event-id="${target.eventId}"] td:nth-child(3)`);
    await read.untilText('#event-view h3', (value) => value === target.eventId);
    expect(await page.isVisible('#events')).toBe(false);
    expect(await read.text('#event-view dd[data-fact="Status"]')).toBe('ROUTED');
    expect(await read.text('#event-view dd[data-fact="Shipment"]')).toBe(shipmentId);
    expect(await read.texts('#event-timeline .what')).toEqual(['Received', 'Routed']);
  });

  it('shows a 400’s field and message beside the search, and clears them once the search is valid', async () => {
    await signIn();
    await search({ from: local(new Date(Date.UTC(2026, 0, 1))), to: local(new Date(Date.UTC(2026, 2, 1))) });
    expect(await read.text('#events-error:not(:empty)')).toContain('the query is not valid');
    expect(await read.texts('#events-error li')).toEqual(['from: the window is longer than 31 days']);
    expect(await page.getAttribute('#events-filter [name="from"]', 'aria-invalid')).toBe('true');

    await search({ from: '', to: '', shipmentId });
    await read.untilText('#events-summary', (value) => value === '5 events matching');
    expect(await read.count('#events-error li')).toBe(0);
    expect(await page.getAttribute('#events-filter [name="from"]', 'aria-invalid')).toBeNull();
  });

  it('shows an event type and a shipment holding markup as text, and runs none of it', async () => {
    await signIn();
    await search({ shipmentId: hostile.payload.shipmentId });
    expect(await read.text(`#events-table tr[data-event-id="${hostile.eventId}"] td:nth-child(4)`)).toBe(XSS);
    expect(await read.count('#events-table img, #events-table script')).toBe(0);
    await page.click(`#events-table tr[data-event-id="${hostile.eventId}"] button.link`);
    expect(await read.untilText('#event-view dd[data-fact="Event type"]', (value) => value === XSS)).toBe(XSS);
    expect(await read.count('#event-detail img, #event-detail script')).toBe(0);
    await new Promise((done) => setTimeout(done, 500));
    expect(await page.evaluate('window.pwned')).toBeUndefined();
  });

  it('pauses a source from the overview: a banner on every page counts its held events while another source flows; resume drains them', async () => {
    const source = 'pausedco';
    const reason = `routing maintenance ${XSS}`;
    await signIn();
    await page.fill('#pause-form [name="pause-source"]', source);
    await page.fill('#pause-form [name="pause-reason"]', reason);
    await page.click('#pause-button');
    const banner = `#pause-banner li[data-scope="${source}"]`;
    await page.waitForSelector(banner, { state: 'visible' });
    expect(await read.text(`${banner} .scope`)).toBe(`Paused: source ${source}`);
    expect(await read.text(`${banner} .reason`)).toBe(reason);
    expect(await read.text(`${banner} .by`)).toBe(keyIdOf(KEY));
    expect(await read.text(`${banner} .held`)).toBe('0 events');
    expect(await read.count('#pause-banner img, #pause-banner script')).toBe(0);

    // The worker reads the pauses for every job it takes up: the next event of the source is held.
    const held = Array.from({ length: 4 }, () => sampleEvent({ source }));
    const flowing = Array.from({ length: 3 }, () => sampleEvent({ source: 'flowingco' }));
    expect(await postMany(baseUrl, [...held, ...flowing])).toEqual(Array(7).fill(202));
    for (const event of flowing) await waitForState(baseUrl, event.eventId, 'ROUTED');
    // The banner refreshes by itself as the worker holds the events.
    await read.untilText(`${banner} .held`, (value) => value === '4 events');
    for (const event of held) expect((await getStatus(baseUrl, event.eventId)).json).toMatchObject({ status: 'QUEUED', attempts: 0 });

    for (const view of ['events', 'dead-letters', 'event', 'audit', 'overview']) {
      await open(view);
      expect(await page.isVisible(banner), view).toBe(true);
      expect(await read.text(`${banner} .held`)).toBe('4 events');
    }
    await open('events');
    await screenshot(page, 'pause');

    await page.click(`${banner} button.resume`);
    await page.waitForSelector('#pause-banner', { state: 'hidden' });
    expect(await read.text('#pause-note')).toBe(`Resumed source ${source}: 4 held events go on within a few seconds.`);
    for (const event of held) await waitForState(baseUrl, event.eventId, 'ROUTED', 30_000);
    expect(((await api('GET', '/v1/ops/pauses')).json.pauses as unknown[]).length).toBe(0);

    // The whole gateway, the same way.
    await open('overview');
    await page.check('#pause-form input[name="pause-scope"][value="all"]');
    await page.fill('#pause-form [name="pause-reason"]', 'database upgrade');
    await page.click('#pause-button');
    await read.untilText('#pause-banner li[data-scope="*"] .scope', (value) => value === 'Paused: the whole gateway');
    await page.click('#pause-banner li[data-scope="*"] button.resume');
    await page.waitForSelector('#pause-banner', { state: 'hidden' });
    expect(((await api('GET', '/v1/ops/pauses')).json.pauses as unknown[]).length).toBe(0);
    expect(await page.evaluate('window.pwned')).toBeUndefined();
  }, 120_000);

  it('lists pauses and resumes on the Audit page with the key id and action, filters by action, and names a bad field', async () => {
    const source = 'auditco';
    const reason = `audit check ${XSS}`;
    expect((await api('POST', '/v1/ops/pauses', { source, reason })).status).toBe(200);
    expect((await api('POST', '/v1/ops/pauses/resume', { source })).status).toBe(200);
    await signIn();
    await open('audit');
    await page.waitForSelector('#audit-table[aria-busy="false"]');
    const pauseRow = `#audit-table tr[data-action="pause"]:has(td.request:text-matches("auditco"))`;
    const resumeRow = `#audit-table tr[data-action="resume"]:has(td.request:text-matches("auditco"))`;
    await page.waitForSelector(pauseRow);
    expect(await read.texts(`${pauseRow} td`)).toEqual([
      expect.any(String),
      keyIdOf(KEY),
      'pause',
      'POST /v1/ops/pauses',
      `source="${source}" reason=${JSON.stringify(reason)}`,
      'no',
      '0',
      'SUCCEEDED',
    ]);
    expect((await read.texts(`${resumeRow} td`)).slice(1, 4)).toEqual([keyIdOf(KEY), 'resume', 'POST /v1/ops/pauses/resume']);
    expect(await read.count('#audit-table img, #audit-table script')).toBe(0);
    await screenshot(page, 'audit');

    await page.selectOption('#audit-filter select[name="action"]', 'resume');
    await page.click('#audit-filter button[type="submit"]');
    const actions = await waitFor(
      'the audit table to list resumes only',
      async () => {
        const shown = await read.attributes('#audit-table tbody tr', 'data-action');
        return shown.length > 0 && shown.every((action) => action === 'resume') ? shown : undefined;
      },
      30_000,
    );
    expect(actions.length).toBeGreaterThanOrEqual(1);
    await page.waitForSelector(resumeRow);

    await page.fill('#audit-filter [name="keyId"]', 'not-a-key-id');
    await page.click('#audit-filter button[type="submit"]');
    await read.untilText('#audit-error li', (value) => value === "keyId: the first 8 hex digits of the key's SHA-256");
    expect(await page.getAttribute('#audit-filter [name="keyId"]', 'aria-invalid')).toBe('true');
    expect(await page.evaluate('window.pwned')).toBeUndefined();
  });

  it('re-routes a search’s events after a dry run, shows the progress until done, and the event shows its round', async () => {
    const reason = `routing table fixed ${XSS}`;
    await signIn();
    const now = Date.now();
    await search({ source: 'reroutes', from: local(new Date(now - 30 * 60_000)), to: local(new Date(now + 60_000)) }, { status: 'ROUTED' });
    await read.untilText('#events-summary', (value) => value === '3 events matching');
    expect(await read.text('#events-reroute .reroute-scope')).toMatch(/^Re-routes the ROUTED events of this search, received /);

    await page.fill('#events-reroute .reroute-reason', reason);
    await page.click('#events-reroute .reroute-dry-run');
    expect(await read.untilText('#events-reroute .reroute-summary', (value) => value.startsWith('Dry run'))).toBe(
      'Dry run: 3 events would be re-routed; nothing was changed.',
    );
    expect((await read.attributes('#events-reroute .reroute-sample tbody tr', 'data-event-id')).sort()).toEqual(
      toReroute.map((e) => e.eventId).sort(),
    );
    // A dry run changes nothing.
    for (const event of toReroute) expect((await getStatus(baseUrl, event.eventId)).json.rounds ?? []).toEqual([]);

    expect(await read.text('#events-reroute .reroute-confirm')).toBe('Confirm re-route of 3 events');
    await page.click('#events-reroute .reroute-confirm');
    await read.untilText(
      '#events-reroute .reroute-done',
      (value) => value.startsWith('Re-route done: 3 routed, 0 failed of 3 events'),
      60_000,
    );
    expect(await page.getAttribute('#events-reroute .reroute-progress-text', 'data-state')).toBe('done');
    expect(await page.getAttribute('#events-reroute .reroute-bar', 'value')).toBe('3');
    await screenshot(page, 'reroute');

    // One event, from its own view: its first round shows, and it is re-routed once more.
    const target = toReroute[0]!;
    await page.click(`#events-table tr[data-event-id="${target.eventId}"] button.link`);
    await page.waitForSelector('#event-rounds tbody tr');
    expect((await read.texts('#event-rounds tbody tr[data-round] td')).slice(3, 6)).toEqual([reason, keyIdOf(KEY), 'ROUTED']);
    await page.fill('#event-reroute .reroute-reason', 'once more');
    await page.click('#event-reroute .reroute-dry-run');
    expect(await read.untilText('#event-reroute .reroute-summary', (value) => value.startsWith('Dry run'))).toBe(
      'Dry run: 1 event would be re-routed; nothing was changed.',
    );
    await page.click('#event-reroute .reroute-confirm');
    await read.untilText(
      '#event-reroute .reroute-done',
      (value) => value.startsWith('Re-route done: 1 routed, 0 failed of 1 event'),
      60_000,
    );
    await page.click('#event-lookup button[type="submit"]');
    await waitFor(
      'the event view to show two rounds',
      async () => ((await read.count('#event-rounds tbody tr')) === 2 ? true : undefined),
      30_000,
    );
    expect(await read.count('#event-detail img, #event-detail script, #events img')).toBe(0);
    expect(await page.evaluate('window.pwned')).toBeUndefined();
  }, 120_000);

  it('re-routes nothing from a search without a window, and says why', async () => {
    await signIn();
    await search({ shipmentId });
    expect(await read.text('#events-reroute .reroute-scope')).toBe(
      'Search with a received-at window (from and to, at most 24 h) to re-route its events.',
    );
    await page.fill('#events-reroute .reroute-reason', 'no window');
    await page.click('#events-reroute .reroute-dry-run');
    expect(await read.text('#events-reroute .reroute-result .error')).toBe(
      'Search with a received-at window (from and to, at most 24 h) to re-route its events.',
    );
  });
});
