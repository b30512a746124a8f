// One event: its status and facts, a timeline of its life, its dead letter and payload, its
// replays and routing rounds, and a re-route of it alone.
import { api, query, report } from './api.js';
import { $, badge, el, formatTime, replaceChildren } from './dom.js';
import { show } from './nav.js';
import { reroutePanel } from './reroute.js';

/** Statuses an event can be re-routed from. */
const REROUTABLE = ['ROUTED', 'DEAD_LETTERED'];

export async function openEvent(eventId, record) {
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
    ['Shipment', view?.shipmentId],
    ['Order', view?.orderId],
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
    Array.isArray(view?.rounds) && view.rounds.length ? [el('h3', {}, 'Routing rounds'), roundsTable(view.rounds)] : null,
  );
  const reroute = REROUTABLE.includes(status)
    ? reroutePanel({
        id: 'event-reroute',
        describe: `Routes this ${status} event again, as a new routing round.`,
        selection: () => ({ ids: [eventId] }),
      }).node
    : null;
  replaceChildren($('event-detail'), detail, reroute);
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

/** Received, every attempt that failed (time, error class, message), dead-lettering, replays, re-routes, routing: in time order. */
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
  for (const round of Array.isArray(view?.rounds) ? view.rounds : []) {
    if (round.requestId) entries.push({ at: round.at, kind: 'replay', what: `Re-routed (round ${round.round})`, message: round.reason });
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

/** The event's routing rounds (the first routing and each re-route), as the status route gives them. */
function roundsTable(rounds) {
  return el(
    'table',
    { id: 'event-rounds' },
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        ['Round', 'When', 'Re-route request', 'Reason', 'By', 'Outcome'].map((name) => el('th', {}, name)),
      ),
    ),
    el(
      'tbody',
      {},
      rounds.map((round) =>
        el(
          'tr',
          { 'data-round': round.round },
          el('td', {}, round.round),
          el('td', {}, formatTime(round.at)),
          el('td', { class: 'mono' }, round.requestId ?? '–'),
          el('td', { class: 'wrap' }, round.reason ?? ''),
          el('td', { class: 'mono' }, round.by ?? ''),
          el('td', {}, round.outcome ? badge(round.outcome) : ''),
        ),
      ),
    ),
  );
}

export function wireEvent() {
  $('event-lookup').addEventListener('submit', (event) => {
    event.preventDefault();
    const id = $('event-id').value.trim();
    if (id) void lookUp(id);
  });
}
