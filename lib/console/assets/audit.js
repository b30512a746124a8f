// The Audit page: who did what through the operator routes and functions, newest first, by
// action, key id and time, a page at a time.
import { $, badge, el, formatTime, isoOfLocal, replaceChildren } from './dom.js';
import { loadPage, wirePaging } from './paging.js';

const audit = { filter: undefined, cursors: [], cursor: undefined, nextCursor: undefined, loads: 0 };

function readFilter() {
  const form = $('audit-filter');
  const value = (name) => form.elements[name].value.trim();
  return {
    action: value('action'),
    keyId: value('keyId'),
    from: isoOfLocal(value('from')),
    to: isoOfLocal(value('to')),
    limit: value('limit'),
  };
}

/** Opened: the newest records of the applied filter (a trail changes while the page is away). */
export function showAudit() {
  audit.filter ??= readFilter();
  audit.cursors = [];
  void loadAudit(undefined);
}

function loadAudit(cursor) {
  return loadPage('audit', audit, '/v1/ops/audit', cursor, (page) => renderAudit(page.items || []));
}

/** The request as the action parsed it, on one line: `source=dhl reason="..."`. */
function describeRequest(request) {
  return Object.entries(request ?? {})
    .map(([name, value]) => `${name}=${JSON.stringify(value)}`)
    .join(' ');
}

function renderAudit(items) {
  const rows = items.map((item) =>
    el(
      'tr',
      { 'data-action': item.action, 'data-id': item._id },
      el('td', {}, formatTime(item.at)),
      el('td', { class: 'mono' }, item.keyId ?? '–'),
      el('td', { class: 'action' }, item.action),
      el('td', { class: 'mono' }, item.via),
      el('td', { class: 'mono wrap request' }, describeRequest(item.request)),
      el('td', {}, item.dryRun ? 'yes' : 'no'),
      el('td', {}, item.matched),
      el('td', {}, badge(item.outcome), item.error ? el('span', { class: 'message' }, ` ${item.error}`) : null),
    ),
  );
  if (rows.length === 0) rows.push(el('tr', {}, el('td', { colspan: 8, class: 'muted' }, 'No operator action matches this filter.')));
  replaceChildren($('audit-table').querySelector('tbody'), rows);
  $('audit-page').textContent = `page ${audit.cursors.length + 1}, ${items.length} shown`;
  $('audit-prev').disabled = audit.cursors.length === 0;
  $('audit-first').disabled = audit.cursors.length === 0;
  $('audit-next').disabled = !audit.nextCursor;
}

export function wireAudit() {
  wirePaging('audit', audit, readFilter, loadAudit);
}
