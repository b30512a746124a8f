/* global document, window, sessionStorage, fetch, URLSearchParams, Headers, setTimeout, clearTimeout */
// The operator console: plain browser JavaScript, no framework, no third-party origin. Every
// value from the API reaches the page through textContent or an attribute, never as markup.
'use strict';

const KEY_STORAGE = 'gateway-console-key';
const REFRESH_MS = 3000;
const HISTORY_MS = 5 * 60_000;
const REPLAY_IDS_MAX = 10_000;

const state = {
  key: sessionStorage.getItem(KEY_STORAGE) || '',
  view: 'overview',
  timer: undefined,
  samples: [],
  dlq: { filter: {}, cursors: [], cursor: undefined, nextCursor: undefined, items: [], total: 0, selected: new Map(), loads: 0 },
  dryRun: undefined,
};

// ---------- DOM helpers ----------

const $ = (id) => document.getElementById(id);

/** An element with attributes and children; strings become text nodes, so nothing is parsed as HTML. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof window.Node ? child : document.createTextNode(String(child)));
  }
}

function replaceChildren(node, ...children) {
  node.replaceChildren();
  append(node, children);
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

const TO_THE_MILLISECOND = {
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  fractionalSecondDigits: 3,
  hour12: false,
};

/** Local time; to the millisecond in a timeline, where attempts can come within one second. */
function formatTime(iso, precise = false) {
  if (!iso) return '–';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return date.toLocaleString(undefined, precise ? TO_THE_MILLISECOND : { hour12: false });
}

function formatAge(seconds) {
  if (!seconds) return '0 s';
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function counts(node, values, order = []) {
  const names = [
    ...order.filter((name) => name in values),
    ...Object.keys(values)
      .filter((name) => !order.includes(name))
      .sort(),
  ];
  const rows = names.map((name) => el('div', {}, el('dt', {}, name), el('dd', { 'data-count': name }, values[name])));
  if (rows.length === 0) rows.push(el('div', {}, el('dt', {}, 'none')));
  replaceChildren(node, rows);
}

function badge(value) {
  return el('span', { class: `badge ${value}` }, value);
}

// ---------- API ----------

class SignedOut extends Error {}

/** Calls the gateway with the operator key in `x-api-key`; a 401 signs the console out. */
async function api(path, init = {}) {
  const headers = new Headers(init.headers);
  headers.set('x-api-key', state.key);
  if (init.body !== undefined) headers.set('content-type', 'application/json');
  const response = await fetch(path, { ...init, headers, credentials: 'omit', cache: 'no-store' });
  if (response.status === 401) {
    signOut('The gateway refused this key: it may have been rotated. Sign in again.');
    throw new SignedOut();
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(body?.error?.message || `the gateway replied ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined && value !== '') search.set(name, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}

function report(node, error) {
  if (error instanceof SignedOut) return;
  node.textContent = error instanceof Error ? error.message : String(error);
}

// ---------- sign in ----------

async function signIn(key) {
  const response = await fetch('/v1/ops/stats', { headers: { 'x-api-key': key }, credentials: 'omit', cache: 'no-store' });
  if (response.status === 401) return 'That key was refused. Check it and try again.';
  if (!response.ok) return `The gateway could not check the key (HTTP ${response.status}). Try again shortly.`;
  state.key = key;
  sessionStorage.setItem(KEY_STORAGE, key);
  $('sign-in').hidden = true;
  $('nav').hidden = false;
  $('sign-out').hidden = false;
  show(state.view);
  startRefresh();
  return '';
}

function signOut(message = '') {
  state.key = '';
  sessionStorage.removeItem(KEY_STORAGE);
  clearTimeout(state.timer);
  state.timer = undefined;
  state.samples = [];
  for (const id of ['overview', 'dead-letters', 'event']) $(id).hidden = true;
  $('nav').hidden = true;
  $('sign-out').hidden = true;
  $('sign-in').hidden = false;
  $('operator-key').value = '';
  $('sign-in-error').textContent = message;
  $('operator-key').focus();
}

function show(view) {
  state.view = view;
  for (const id of ['overview', 'dead-letters', 'event']) $(id).hidden = id !== view;
  for (const button of document.querySelectorAll('#nav button')) {
    if (button.dataset.view === view) button.setAttribute('aria-current', 'page');
    else button.removeAttribute('aria-current');
  }
  if (view === 'overview') void refreshOverview();
  if (view === 'dead-letters') void loadDeadLetters(state.dlq.cursor);
}

// ---------- overview ----------

function startRefresh() {
  clearTimeout(state.timer);
  const tick = async () => {
    if (!state.key) return;
    await refreshOverview().catch(() => undefined);
    if (state.key) state.timer = setTimeout(tick, REFRESH_MS);
  };
  state.timer = setTimeout(tick, REFRESH_MS);
}

async function refreshOverview() {
  try {
    const [stats, dlq] = await Promise.all([api('/v1/ops/stats'), api('/v1/ops/dlq?limit=1')]);
    const queue = stats.queue || {};
    const backlog = (queue.waiting || 0) + (queue.delayed || 0) + (queue.active || 0) + (queue.prioritized || 0);
    const routed = (stats.ledger || {}).ROUTED || 0;
    const at = Date.parse(stats.at) || Date.now();
    state.samples.push({ at, backlog, routed });
    state.samples = state.samples.filter((sample) => sample.at >= at - HISTORY_MS);

    $('oldest-waiting').textContent = formatAge(stats.oldestWaitingSeconds);
    counts($('queue-counts'), queue, ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed']);
    $('dead-letters-pending').textContent = String(stats.deadLetterQueue?.pending ?? 0);
    counts($('dead-letter-reasons'), dlq.countsByReason || {});
    counts($('ledger-counts'), stats.ledger || {}, ['QUEUED', 'ROUTING_PENDING', 'FAILED', 'ROUTED', 'DEAD_LETTERED']);
    drawChart(
      $('backlog-chart'),
      state.samples.map((s) => ({ at: s.at, value: s.backlog })),
      'line-backlog',
      'events',
    );
    drawChart($('throughput-chart'), throughput(state.samples), 'line-throughput', 'per s');
    $('overview-updated').textContent = `updated ${new Date(at).toLocaleTimeString(undefined, { hour12: false })}`;
  } catch (error) {
    report($('overview-updated'), error);
  }
}

/** Events routed per second between consecutive samples. */
function throughput(samples) {
  const points = [];
  for (let i = 1; i < samples.length; i += 1) {
    const seconds = (samples[i].at - samples[i - 1].at) / 1000;
    if (seconds > 0) points.push({ at: samples[i].at, value: Math.max(0, (samples[i].routed - samples[i - 1].routed) / seconds) });
  }
  return points;
}

/** A line chart of the last five minutes, drawn as SVG from the samples alone. */
function drawChart(node, points, lineClass, unit) {
  const width = 480;
  const height = 150;
  const pad = { left: 44, right: 10, top: 10, bottom: 22 };
  const now = points.length ? points[points.length - 1].at : Date.now();
  const max = Math.max(1, ...points.map((p) => p.value));
  const top = niceCeiling(max);
  const x = (at) => pad.left + ((at - (now - HISTORY_MS)) / HISTORY_MS) * (width - pad.left - pad.right);
  const y = (value) => pad.top + (1 - value / top) * (height - pad.top - pad.bottom);
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `${unit} over the last 5 minutes` });
  for (const value of [0, top / 2, top]) {
    chart.append(svg('line', { class: 'axis', x1: pad.left, x2: width - pad.right, y1: y(value), y2: y(value) }));
    chart.append(svg('text', { x: pad.left - 6, y: y(value) + 4, 'text-anchor': 'end' }, formatNumber(value)));
  }
  chart.append(svg('text', { x: pad.left, y: height - 6 }, '−5 min'));
  chart.append(svg('text', { x: width - pad.right, y: height - 6, 'text-anchor': 'end' }, 'now'));
  if (points.length > 0) {
    const path = points.map((p) => `${x(p.at).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ');
    chart.append(svg('polyline', { class: lineClass, points: path }));
    const last = points[points.length - 1];
    chart.append(svg('circle', { cx: x(last.at), cy: y(last.value), r: 3, class: lineClass }));
  }
  node.dataset.last = points.length ? String(points[points.length - 1].value) : '';
  node.replaceChildren(chart);
}

function niceCeiling(value) {
  const step = 10 ** Math.floor(Math.log10(value));
  for (const factor of [1, 2, 5, 10]) if (value <= factor * step) return factor * step;
  return 10 * step;
}

function formatNumber(value) {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

// ---------- dead letters ----------

function readFilter() {
  const form = $('dlq-filter');
  const value = (name) => form.elements[name].value.trim();
  const isoOf = (name) => (value(name) ? new Date(value(name)).toISOString() : '');
  return {
    source: value('source'),
    eventType: value('eventType'),
    reason: value('reason'),
    status: value('status'),
    failedFrom: isoOf('failedFrom'),
    failedTo: isoOf('failedTo'),
    limit: value('limit'),
  };
}

/** Loads the page at `cursor` (undefined: the first page) of the applied filter. */
async function loadDeadLetters(cursor) {
  const dlq = state.dlq;
  const table = $('dlq-table');
  // Only the latest load renders: a slower earlier one (another filter) must not overwrite it.
  const ticket = (dlq.loads += 1);
  table.setAttribute('aria-busy', 'true');
  try {
    const page = await api(`/v1/ops/dlq${query({ ...dlq.filter, cursor })}`);
    if (ticket !== dlq.loads) return;
    dlq.cursor = cursor;
    dlq.items = page.items || [];
    dlq.nextCursor = page.nextCursor;
    dlq.total = Object.values(page.countsByReason || {}).reduce((sum, n) => sum + n, 0);
    counts($('dlq-reasons'), page.countsByReason || {});
    renderDeadLetters();
  } catch (error) {
    report($('dlq-summary'), error);
  } finally {
    if (ticket === dlq.loads) table.setAttribute('aria-busy', 'false');
  }
}

function renderDeadLetters() {
  const dlq = state.dlq;
  const rows = dlq.items.map((item) => {
    const checkbox = el('input', { type: 'checkbox', 'aria-label': `Select ${item.eventId}`, 'data-event-id': item.eventId });
    checkbox.checked = dlq.selected.has(item.eventId);
    checkbox.addEventListener('change', () => {
      if (checkbox.checked) dlq.selected.set(item.eventId, item);
      else dlq.selected.delete(item.eventId);
      selectionChanged();
    });
    return el(
      'tr',
      { 'data-event-id': item.eventId },
      el('td', {}, checkbox),
      el(
        'td',
        { class: 'mono wrap' },
        el('button', { type: 'button', class: 'link', onclick: () => void openEvent(item.eventId, item) }, item.eventId),
      ),
      el('td', {}, item.source),
      el('td', {}, item.eventType),
      el('td', {}, item.reason),
      el('td', {}, item.attempts),
      el('td', { class: 'wrap' }, `${item.error?.name ?? ''}: ${item.error?.message ?? ''}`),
      el('td', {}, formatTime(item.lastFailedAt)),
      el('td', {}, item.replayCount ?? 0),
    );
  });
  if (rows.length === 0) rows.push(el('tr', {}, el('td', { colspan: 9, class: 'muted' }, 'No dead letters match this filter.')));
  replaceChildren($('dlq-table').querySelector('tbody'), rows);
  $('dlq-select-page').checked = dlq.items.length > 0 && dlq.items.every((item) => dlq.selected.has(item.eventId));
  $('dlq-summary').textContent = `${dlq.total} matching ${dlq.filter.status || 'PENDING'}`;
  $('dlq-page').textContent = `page ${dlq.cursors.length + 1}, ${dlq.items.length} shown`;
  $('dlq-prev').disabled = dlq.cursors.length === 0;
  $('dlq-first').disabled = dlq.cursors.length === 0;
  $('dlq-next').disabled = !dlq.nextCursor;
  selectionChanged();
}

function selectionChanged() {
  const dlq = state.dlq;
  $('scope-selected').textContent = `Selected rows (${dlq.selected.size})`;
  $('scope-filter').textContent = `All matching the filter (${dlq.total})`;
  state.dryRun = undefined;
  $('replay').disabled = true;
  $('dry-run-result').replaceChildren();
}

function replayScope() {
  const scope = document.querySelector('input[name="replay-scope"]:checked').value;
  const rate = Number($('replay-rate').value);
  if (scope === 'selected') {
    const ids = [...state.dlq.selected.keys()];
    return { scope, rate, label: `${ids.length} selected`, request: { ids, limit: Math.max(1, ids.length) } };
  }
  const { source, eventType, reason, failedFrom, failedTo } = state.dlq.filter;
  const filter = Object.fromEntries(Object.entries({ source, eventType, reason, failedFrom, failedTo }).filter(([, v]) => v));
  const limit = Math.min(Math.max(1, state.dlq.total), REPLAY_IDS_MAX);
  return { scope, rate, label: 'all matching the filter', request: { ...filter, limit } };
}

async function dryRun() {
  const scope = replayScope();
  const out = $('dry-run-result');
  if (scope.scope === 'selected' && scope.request.ids.length === 0) {
    replaceChildren(out, el('p', { class: 'error' }, 'Select rows first, or choose "All matching the filter".'));
    return;
  }
  if (!(scope.rate >= 1)) {
    replaceChildren(out, el('p', { class: 'error' }, 'The rate must be at least 1 event per second.'));
    return;
  }
  // A new dry run starts a new cycle: the last replay's report and progress go.
  replaceChildren($('replay-report'));
  $('replay-progress').hidden = true;
  replaceChildren(out, el('p', { class: 'muted' }, 'Running a dry run…'));
  try {
    const result = await api('/v1/ops/dlq/replay', { method: 'POST', body: JSON.stringify({ ...scope.request, dryRun: true }) });
    state.dryRun = { ...scope, ids: result.replayed.map((r) => r.eventId) };
    const n = state.dryRun.ids.length;
    replaceChildren(
      out,
      el(
        'p',
        { id: 'dry-run-summary' },
        `Dry run (${scope.label}): ${n} dead letter${n === 1 ? '' : 's'} would be replayed; nothing was changed.`,
      ),
      eventList(result.replayed.slice(0, 20), n > 20 ? `and ${n - 20} more` : ''),
    );
    $('replay').disabled = n === 0;
  } catch (error) {
    replaceChildren(out, el('p', { class: 'error' }, error instanceof SignedOut ? '' : error.message));
  }
}

function eventList(events, more) {
  return el(
    'ul',
    { class: 'mono' },
    events.map((e) => el('li', {}, `${e.eventId} (${e.reason})`)),
    more ? el('li', { class: 'muted' }, more) : null,
  );
}

function confirmReplay() {
  const plan = state.dryRun;
  if (!plan) return;
  const n = plan.ids.length;
  const seconds = Math.ceil(n / plan.rate);
  $('confirm-text').textContent =
    `${n} dead letter${n === 1 ? '' : 's'} (${plan.label}) will go back to the main queue at ${plan.rate} events per second, ` +
    `about ${seconds} s. Events already routed are closed instead of replayed.`;
  $('confirm-button').textContent = `Replay ${n} event${n === 1 ? '' : 's'}`;
  $('confirm-replay').returnValue = '';
  $('confirm-replay').showModal();
}

/** Replays the dry run's events in batches of about ten seconds' worth, so progress shows between them. */
async function runReplay() {
  const plan = state.dryRun;
  if (!plan) return;
  state.dryRun = undefined;
  $('replay').disabled = true;
  $('dry-run').disabled = true;
  const total = plan.ids.length;
  const batch = Math.max(1, Math.floor(plan.rate * 10));
  const replayed = [];
  const skipped = [];
  let seconds = 0;
  $('replay-progress').hidden = false;
  $('replay-bar').max = total;
  const progress = () => {
    $('replay-bar').value = replayed.length + skipped.length;
    $('replay-progress-text').textContent = `${replayed.length} replayed, ${skipped.length} skipped of ${total}`;
  };
  progress();
  replaceChildren($('replay-report'));
  try {
    for (let start = 0; start < total; start += batch) {
      const ids = plan.ids.slice(start, start + batch);
      const began = Date.now();
      const result = await api('/v1/ops/dlq/replay', {
        method: 'POST',
        body: JSON.stringify({ ids, limit: ids.length, ratePerSecond: plan.rate }),
      });
      seconds += (Date.now() - began) / 1000;
      replayed.push(...result.replayed);
      skipped.push(...result.skipped);
      progress();
    }
    renderReplayReport(replayed, skipped, seconds);
  } catch (error) {
    replaceChildren(
      $('replay-report'),
      el('p', { class: 'error' }, `Replay stopped: ${error instanceof SignedOut ? 'signed out' : error.message}`),
    );
  } finally {
    $('dry-run').disabled = false;
    void loadDeadLetters(state.dlq.cursor);
  }
}

function renderReplayReport(replayed, skipped, seconds) {
  const statusCells = new Map();
  const rows = replayed.slice(0, 200).map((r) => {
    const cell = el('td', { 'data-status-of': r.eventId }, badge('QUEUED'));
    statusCells.set(r.eventId, cell);
    return el('tr', {}, el('td', { class: 'mono' }, r.eventId), el('td', {}, r.jobId ?? ''), cell);
  });
  replaceChildren(
    $('replay-report'),
    el('p', { id: 'replay-summary' }, `Replay done: ${replayed.length} replayed, ${skipped.length} skipped, in ${seconds.toFixed(1)} s.`),
    skipped.length
      ? el(
          'ul',
          {},
          skipped.map((s) => el('li', {}, `${s.eventId}: ${s.why}`)),
        )
      : null,
    rows.length
      ? el(
          'table',
          { id: 'replay-events' },
          el('thead', {}, el('tr', {}, el('th', {}, 'Event id'), el('th', {}, 'Job'), el('th', {}, 'Status now'))),
          el('tbody', {}, rows),
        )
      : null,
  );
  void followStatuses(statusCells);
}

/** Shows each replayed event's state until every one is ROUTED or DEAD_LETTERED again. */
async function followStatuses(cells, rounds = 100) {
  const open = new Map(cells);
  for (let round = 0; round < rounds && open.size > 0 && state.key; round += 1) {
    for (const [eventId, cell] of [...open]) {
      try {
        const view = await api(`/v1/events/${encodeURIComponent(eventId)}`);
        cell.replaceChildren(badge(view.status));
        if (view.status === 'ROUTED' || view.status === 'DEAD_LETTERED') open.delete(eventId);
      } catch (error) {
        if (error instanceof SignedOut) return;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

// ---------- event ----------

async function openEvent(eventId, record) {
  show('event');
  $('event-id').value = eventId;
  await lookUp(eventId, record);
}

async function lookUp(eventId, known) {
  $('event-error').textContent = '';
  replaceChildren($('event-detail'), el('p', { class: 'muted' }, 'Loading…'));
  try {
    const [view, record] = await Promise.all([
      api(`/v1/events/${encodeURIComponent(eventId)}`).catch((error) => {
        if (error.status === 404) return undefined;
        throw error;
      }),
      known ? Promise.resolve(known) : findDeadLetter(eventId),
    ]);
    if (!view && !record) {
      replaceChildren($('event-detail'));
      $('event-error').textContent = `No event with id ${eventId} is known to the gateway.`;
      return;
    }
    renderEvent(eventId, view, record);
  } catch (error) {
    replaceChildren($('event-detail'));
    report($('event-error'), error);
  }
}

/** The event's dead-letter record in any state (the list shows one state at a time). */
async function findDeadLetter(eventId) {
  const pages = await Promise.all(
    ['PENDING', 'REPLAYING', 'REPLAYED', 'RESOLVED'].map((status) => api(`/v1/ops/dlq${query({ ids: eventId, status, limit: 1 })}`)),
  );
  return pages.flatMap((page) => page.items || [])[0];
}

function renderEvent(eventId, view, record) {
  const status = view?.status ?? 'DEAD_LETTERED';
  const facts = [
    ['Status', badge(status)],
    ['Source', view?.source ?? record?.source],
    ['Event type', view?.eventType ?? record?.eventType],
    ['Correlation id', view?.correlationId ?? record?.item?.correlationId],
    ['Idempotency key', view?.idempotencyKey ?? record?.idempotencyKey],
    ['Attempts', view?.attempts ?? record?.attempts],
    ['Received', formatTime(view?.receivedAt ?? record?.item?.receivedAt)],
    ['Next attempt', view?.nextAttemptAt ? formatTime(view.nextAttemptAt) : undefined],
    ['Routed', view?.routedAt ? formatTime(view.routedAt) : undefined],
    ['Routing', view?.routing ? JSON.stringify(view.routing) : undefined],
  ].filter(([, value]) => value !== undefined && value !== null && value !== '');

  const detail = el(
    'div',
    { class: 'panel', id: 'event-view' },
    el('h3', { class: 'mono' }, eventId),
    el(
      'dl',
      { class: 'facts' },
      facts.map(([name, value]) => [el('dt', {}, name), el('dd', { 'data-fact': name }, value)]),
    ),
    el(
      'div',
      { class: 'detail-grid' },
      el('div', {}, el('h3', {}, 'History'), timeline(view, record)),
      el(
        'div',
        {},
        record ? deadLetterFacts(record) : null,
        el('h3', {}, 'Payload'),
        record
          ? el('pre', { class: 'payload', id: 'event-payload' }, JSON.stringify(record.item?.event?.payload ?? {}, null, 2))
          : el('p', { class: 'muted' }, 'The payload is kept with dead letters only; this event has none.'),
      ),
    ),
    el('h3', {}, 'Replays'),
    replayHistory(view, record),
  );
  replaceChildren($('event-detail'), detail);
}

function deadLetterFacts(record) {
  return [
    el('h3', {}, 'Dead letter'),
    el(
      'dl',
      { class: 'facts' },
      el('dt', {}, 'State'),
      el('dd', {}, badge(record.status)),
      el('dt', {}, 'Reason'),
      el('dd', {}, record.reason),
      el('dt', {}, 'Error'),
      el('dd', {}, `${record.error?.name ?? ''}: ${record.error?.message ?? ''}`),
      el('dt', {}, 'First failed'),
      el('dd', {}, formatTime(record.firstFailedAt)),
      el('dt', {}, 'Last failed'),
      el('dd', {}, formatTime(record.lastFailedAt)),
    ),
  ];
}

/** Received, every attempt that failed (time, error class, message), dead-lettering, replays, routing: in time order. */
function timeline(view, record) {
  const entries = [];
  const receivedAt = view?.receivedAt ?? record?.item?.receivedAt;
  if (receivedAt) entries.push({ at: receivedAt, kind: '', what: 'Received' });
  const attempts = view?.attemptHistory?.length ? view.attemptHistory : (record?.attemptHistory ?? []);
  for (const attempt of attempts) {
    entries.push({
      at: attempt.at,
      kind: 'failure',
      what: `Attempt ${attempt.attempt} failed: ${attempt.error}`,
      message: attempt.message,
    });
  }
  if (record) {
    // Recorded just after the last attempt, but its clock reading can come a hair earlier: never show it before that attempt.
    const replayedAt = Math.min(...(record.replays ?? []).map((r) => Date.parse(r.at)));
    const before = attempts.filter((a) => Date.parse(a.at) <= replayedAt).map((a) => Date.parse(a.at));
    const at = new Date(Math.max(Date.parse(record.lastFailedAt), ...before)).toISOString();
    entries.push({ at, kind: 'dead', what: `Dead-lettered: ${record.reason}`, message: record.error?.message });
  } else if (view?.deadLetteredAt) {
    entries.push({ at: view.deadLetteredAt, kind: 'dead', what: 'Dead-lettered' });
  }
  for (const replay of view?.replays ?? record?.replays ?? []) {
    entries.push({ at: replay.at, kind: 'replay', what: 'Replayed', message: `job ${replay.jobId}` });
  }
  if (view?.routedAt) entries.push({ at: view.routedAt, kind: 'success', what: 'Routed' });
  entries.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  if (entries.length === 0) return el('p', { class: 'muted' }, 'Nothing recorded yet: the event is waiting for a worker.');
  return el(
    'ol',
    { class: 'timeline', id: 'event-timeline' },
    entries.map((entry) =>
      el(
        'li',
        { class: entry.kind },
        el('time', { datetime: entry.at }, formatTime(entry.at, true)),
        el('span', { class: 'what' }, entry.what),
        entry.message ? el('span', { class: 'message' }, entry.message) : null,
      ),
    ),
  );
}

function replayHistory(view, record) {
  const replays = view?.replays ?? record?.replays ?? [];
  if (replays.length === 0) return el('p', { class: 'muted' }, 'Never replayed.');
  return el(
    'table',
    { id: 'event-replays' },
    el('thead', {}, el('tr', {}, el('th', {}, 'When'), el('th', {}, 'Job'))),
    el(
      'tbody',
      {},
      replays.map((r) => el('tr', {}, el('td', {}, formatTime(r.at)), el('td', { class: 'mono' }, r.jobId))),
    ),
  );
}

// ---------- wiring ----------

function wire() {
  $('sign-in-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const key = $('operator-key').value.trim();
    $('sign-in-error').textContent = '';
    void signIn(key).then((message) => {
      $('sign-in-error').textContent = message;
      $('operator-key').value = '';
    });
  });
  $('sign-out').addEventListener('click', () => signOut());
  for (const button of document.querySelectorAll('#nav button')) button.addEventListener('click', () => show(button.dataset.view));

  $('dlq-filter').addEventListener('submit', (event) => {
    event.preventDefault();
    const dlq = state.dlq;
    dlq.filter = readFilter();
    dlq.cursors = [];
    dlq.selected.clear();
    void loadDeadLetters(undefined);
  });
  $('dlq-filter').addEventListener('reset', () => setTimeout(() => $('dlq-filter').requestSubmit(), 0));
  $('dlq-next').addEventListener('click', () => {
    const dlq = state.dlq;
    if (!dlq.nextCursor) return;
    dlq.cursors.push(dlq.cursor);
    void loadDeadLetters(dlq.nextCursor);
  });
  $('dlq-prev').addEventListener('click', () => void loadDeadLetters(state.dlq.cursors.pop()));
  $('dlq-first').addEventListener('click', () => {
    state.dlq.cursors = [];
    void loadDeadLetters(undefined);
  });
  $('dlq-select-page').addEventListener('change', (event) => {
    for (const item of state.dlq.items) {
      if (event.target.checked) state.dlq.selected.set(item.eventId, item);
      else state.dlq.selected.delete(item.eventId);
    }
    renderDeadLetters();
  });
  for (const input of document.querySelectorAll('input[name="replay-scope"]')) input.addEventListener('change', selectionChanged);
  $('replay-rate').addEventListener('input', selectionChanged);
  $('dry-run').addEventListener('click', () => void dryRun());
  $('replay').addEventListener('click', confirmReplay);
  $('confirm-replay').addEventListener('close', () => {
    if ($('confirm-replay').returnValue === 'confirm') void runReplay();
  });

  $('event-lookup').addEventListener('submit', (event) => {
    event.preventDefault();
    const id = $('event-id').value.trim();
    if (id) void lookUp(id);
  });

  state.dlq.filter = readFilter();
  if (state.key) {
    void signIn(state.key).then((message) => {
      if (message) signOut(message);
    });
  } else {
    $('operator-key').focus();
  }
}

wire();
