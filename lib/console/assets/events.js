// The Events page: any event the worker has taken up, by shipment, order, source, type, status
// and a received-at window, newest first, a page at a time; a row opens the event; the search's
// events can be re-routed.
import { $, badge, counts, el, formatTime, isoOfLocal, plural, replaceChildren } from './dom.js';
import { loadPage, wirePaging } from './paging.js';
import { openEvent } from './event.js';
import { reroutePanel } from './reroute.js';

const FIELDS = ['shipmentId', 'orderId', 'source', 'eventType', 'status', 'from', 'to', 'limit'];
/** A re-route by filter covers at most this window, and only events in a final state. */
const REROUTE_WINDOW_MS = 24 * 3600 * 1000;
const REROUTABLE = ['ROUTED', 'DEAD_LETTERED'];

const search = { filter: undefined, rerouteFor: undefined, cursors: [], cursor: undefined, nextCursor: undefined, total: 0, loads: 0 };
let reroute;

function readFilter() {
  const form = $('events-filter');
  const value = (name) => form.elements[name].value.trim();
  const filter = {};
  for (const name of FIELDS) filter[name] = name === 'from' || name === 'to' ? isoOfLocal(value(name)) : value(name);
  return filter;
}

/** Opened: the newest events, or the page last shown. */
export function showEvents() {
  if (!search.filter) search.filter = readFilter();
  void loadEvents(search.cursor);
}

function loadEvents(cursor) {
  return loadPage('events', search, '/v1/ops/events', cursor, (page) => {
    search.total = Object.values(page.countsByStatus || {}).reduce((sum, n) => sum + n, 0);
    counts($('events-counts'), page.countsByStatus || {}, ['QUEUED', 'ROUTING_PENDING', 'FAILED', 'ROUTED', 'DEAD_LETTERED']);
    renderEvents(page.items || []);
  });
}

function renderEvents(items) {
  const rows = items.map((item) =>
    el(
      'tr',
      { 'data-event-id': item.eventId, class: 'clickable', onclick: () => void openEvent(item.eventId) },
      el('td', {}, formatTime(item.receivedAt)),
      el('td', { class: 'mono wrap' }, el('button', { type: 'button', class: 'link' }, item.eventId)),
      el('td', {}, item.source),
      el('td', { class: 'wrap' }, item.eventType),
      el('td', { class: 'mono' }, item.shipmentId),
      el('td', { class: 'mono' }, item.orderId ?? ''),
      el('td', { 'data-status': item.status }, badge(item.status)),
      el('td', {}, item.attempts),
    ),
  );
  if (rows.length === 0) rows.push(el('tr', {}, el('td', { colspan: 8, class: 'muted' }, 'No events match this search.')));
  replaceChildren($('events-table').querySelector('tbody'), rows);
  $('events-summary').textContent = `${plural(search.total, 'event')} matching`;
  $('events-page').textContent = `page ${search.cursors.length + 1}, ${items.length} shown`;
  $('events-prev').disabled = search.cursors.length === 0;
  $('events-first').disabled = search.cursors.length === 0;
  $('events-next').disabled = !search.nextCursor;
  // A new search drops the last dry run; another page of the same search keeps it.
  if (search.rerouteFor !== search.filter) {
    search.rerouteFor = search.filter;
    const scope = rerouteScope();
    reroute.reset(scope.problem ?? scope.text);
  }
}

/** What a re-route of this search would cover, or why it cannot be made from it. */
function rerouteScope() {
  const { from, to, status, source, eventType, shipmentId, orderId } = search.filter ?? {};
  if (!from || !to) return { problem: 'Search with a received-at window (from and to, at most 24 h) to re-route its events.' };
  if (Date.parse(to) - Date.parse(from) > REROUTE_WINDOW_MS) return { problem: 'A re-route covers at most 24 h: narrow the window.' };
  if (status && !REROUTABLE.includes(status))
    return { problem: 'Only ROUTED or DEAD_LETTERED events can be re-routed: change the status.' };
  const filter = Object.fromEntries(
    Object.entries({ from, to, source, eventType, shipmentId, orderId, status }).filter(([, value]) => value),
  );
  const which = status ? `${status} events` : 'ROUTED and DEAD_LETTERED events';
  return { filter, text: `Re-routes the ${which} of this search, received ${formatTime(from)} to ${formatTime(to)}.` };
}

export function wireEvents() {
  reroute = reroutePanel({
    id: 'events-reroute',
    describe: 'Search with a received-at window (from and to, at most 24 h) to re-route its events.',
    selection: () => {
      const scope = rerouteScope();
      return scope.problem ? { problem: scope.problem } : { filter: scope.filter };
    },
  });
  $('events').append(reroute.node);

  wirePaging('events', search, readFilter, loadEvents);
}
