/* global document, setTimeout */
// Dead letters: the filter, cursor pages, counts by reason, and the replay (dry run, confirm, progress, report).
import { api, query, report, session, SignedOut } from './api.js';
import { $, badge, counts, el, formatTime, isoOfLocal, replaceChildren } from './dom.js';
import { openEvent } from './event.js';

const REPLAY_IDS_MAX = 10_000;

const dlq = { filter: {}, cursors: [], cursor: undefined, nextCursor: undefined, items: [], total: 0, selected: new Map(), loads: 0 };
let dryRunPlan;

function readFilter() {
  const form = $('dlq-filter');
  const value = (name) => form.elements[name].value.trim();
  return {
    source: value('source'),
    eventType: value('eventType'),
    reason: value('reason'),
    status: value('status'),
    failedFrom: isoOfLocal(value('failedFrom')),
    failedTo: isoOfLocal(value('failedTo')),
    limit: value('limit'),
  };
}

/** Shows the current page again (the view was opened). */
export function showDeadLetters() {
  void loadDeadLetters(dlq.cursor);
}

/** Loads the page at `cursor` (undefined: the first page) of the applied filter. */
async function loadDeadLetters(cursor) {
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
  $('scope-selected').textContent = `Selected rows (${dlq.selected.size})`;
  $('scope-filter').textContent = `All matching the filter (${dlq.total})`;
  dryRunPlan = undefined;
  $('replay').disabled = true;
  $('dry-run-result').replaceChildren();
}

function replayScope() {
  const scope = document.querySelector('input[name="replay-scope"]:checked').value;
  const rate = Number($('replay-rate').value);
  if (scope === 'selected') {
    const ids = [...dlq.selected.keys()];
    return { scope, rate, label: `${ids.length} selected`, request: { ids, limit: Math.max(1, ids.length) } };
  }
  const { source, eventType, reason, failedFrom, failedTo } = dlq.filter;
  const filter = Object.fromEntries(Object.entries({ source, eventType, reason, failedFrom, failedTo }).filter(([, v]) => v));
  const limit = Math.min(Math.max(1, dlq.total), REPLAY_IDS_MAX);
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
    dryRunPlan = { ...scope, ids: result.replayed.map((r) => r.eventId) };
    const n = dryRunPlan.ids.length;
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
  const plan = dryRunPlan;
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
  const plan = dryRunPlan;
  if (!plan) return;
  dryRunPlan = undefined;
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
    void loadDeadLetters(dlq.cursor);
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
  for (let round = 0; round < rounds && open.size > 0 && session.key; round += 1) {
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

export function wireDeadLetters() {
  $('dlq-filter').addEventListener('submit', (event) => {
    event.preventDefault();
    dlq.filter = readFilter();
    dlq.cursors = [];
    dlq.selected.clear();
    void loadDeadLetters(undefined);
  });
  $('dlq-filter').addEventListener('reset', () => setTimeout(() => $('dlq-filter').requestSubmit(), 0));
  $('dlq-next').addEventListener('click', () => {
    if (!dlq.nextCursor) return;
    dlq.cursors.push(dlq.cursor);
    void loadDeadLetters(dlq.nextCursor);
  });
  $('dlq-prev').addEventListener('click', () => void loadDeadLetters(dlq.cursors.pop()));
  $('dlq-first').addEventListener('click', () => {
    dlq.cursors = [];
    void loadDeadLetters(undefined);
  });
  $('dlq-select-page').addEventListener('change', (event) => {
    for (const item of dlq.items) {
      if (event.target.checked) dlq.selected.set(item.eventId, item);
      else dlq.selected.delete(item.eventId);
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
  dlq.filter = readFilter();
}
