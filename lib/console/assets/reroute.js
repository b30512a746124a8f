/* global crypto, setTimeout */
// A re-route panel, the same on the Events page (the search's filter) and on one event (its id):
// a reason, a dry run showing what matches, "Confirm re-route" with the dry run's request id, and
// the progress read back until the re-route is done.
import { api, post, report, session, SignedOut } from './api.js';
import { badge, el, formatTime, plural, replaceChildren } from './dom.js';

const POLL_MS = 1000;
/** Polls that may fail in a row (a restart, a network blip) before the panel stops following. */
const POLL_FAILURES_MAX = 10;

/**
 * A panel that re-routes what `selection()` returns: `{ ids }` or `{ filter }`, or `{ problem }`
 * to say why there is nothing to re-route yet. Returns the panel's node and `reset()`, which drops
 * the dry run (call it when the selection changes).
 */
export function reroutePanel({ id, describe, selection }) {
  const reason = el('input', { class: 'reroute-reason', type: 'text', maxlength: 500, spellcheck: 'false', required: true });
  const rate = el('input', { class: 'reroute-rate', type: 'number', min: 1, max: 1000, placeholder: 'default' });
  const dryRunButton = el('button', { type: 'button', class: 'reroute-dry-run' }, 'Dry run');
  const confirmButton = el('button', { type: 'button', class: 'reroute-confirm', disabled: true }, 'Confirm re-route');
  const hint = el('p', { class: 'hint reroute-scope' }, describe);
  const result = el('div', { class: 'reroute-result', role: 'status' });
  const bar = el('progress', { class: 'reroute-bar', max: 1, value: 0 });
  const progressText = el('span', { class: 'reroute-progress-text' });
  const progress = el('div', { class: 'reroute-progress', hidden: true }, bar, ' ', progressText);
  const panel = el(
    'div',
    { class: 'panel reroute', id },
    el('h3', {}, 'Re-route'),
    hint,
    el('div', { class: 'reroute-fields' }, el('label', {}, 'Reason ', reason), el('label', {}, 'Rate ', rate, ' events per second')),
    el('div', { class: 'actions' }, dryRunButton, confirmButton),
    result,
    progress,
  );

  // The dry run's request, sent again with `confirm: true`; dropped when anything it was made from changes.
  let plan;
  // Each follow loop stops when a newer dry run or re-route begins.
  let generation = 0;

  const reset = (text) => {
    plan = undefined;
    generation += 1;
    confirmButton.disabled = true;
    confirmButton.textContent = 'Confirm re-route';
    replaceChildren(result);
    progress.hidden = true;
    if (text !== undefined) hint.textContent = text;
  };

  const dryRun = async () => {
    reset();
    const chosen = selection();
    if (chosen.problem) return replaceChildren(result, el('p', { class: 'error' }, chosen.problem));
    if (!reason.value.trim())
      return replaceChildren(result, el('p', { class: 'error' }, 'Say why (the reason goes into the audit trail).'));
    const ratePerSecond = rate.value ? Number(rate.value) : undefined;
    const request = { requestId: crypto.randomUUID(), reason: reason.value.trim(), ...chosen, ratePerSecond };
    replaceChildren(result, el('p', { class: 'muted' }, 'Running a dry run…'));
    dryRunButton.disabled = true;
    try {
      const reply = await post('/v1/ops/reroutes', { ...request, confirm: false });
      plan = request;
      renderDryRun(result, reply);
      confirmButton.disabled = !(reply.matched > 0);
      confirmButton.textContent = `Confirm re-route of ${plural(reply.matched ?? 0, 'event')}`;
    } catch (error) {
      showError(result, error);
    } finally {
      dryRunButton.disabled = false;
    }
  };

  const confirm = async () => {
    if (!plan) return;
    const request = plan;
    plan = undefined;
    const mine = (generation += 1);
    confirmButton.disabled = true;
    dryRunButton.disabled = true;
    try {
      const accepted = await post('/v1/ops/reroutes', { ...request, confirm: true });
      progress.hidden = false;
      showProgress(bar, progressText, { matched: accepted.matched, state: accepted.state, ...accepted.progress });
      await follow(request.requestId, () => mine === generation, bar, progressText, result);
    } catch (error) {
      showError(result, error);
    } finally {
      dryRunButton.disabled = false;
    }
  };

  reason.addEventListener('input', () => reset());
  rate.addEventListener('input', () => reset());
  dryRunButton.addEventListener('click', () => void dryRun());
  confirmButton.addEventListener('click', () => void confirm());
  return { node: panel, reset };
}

function renderDryRun(node, reply) {
  const sample = reply.sample ?? [];
  const skipped = reply.skipped ?? [];
  const matched = reply.matched ?? 0;
  replaceChildren(
    node,
    el('p', { class: 'reroute-summary' }, `Dry run: ${plural(matched, 'event')} would be re-routed; nothing was changed.`),
    sample.length
      ? el(
          'table',
          { class: 'reroute-sample' },
          el(
            'thead',
            {},
            el(
              'tr',
              {},
              ['Event id', 'Source', 'Event type', 'Shipment', 'Status', 'Received'].map((name) => el('th', {}, name)),
            ),
          ),
          el(
            'tbody',
            {},
            sample.map((e) =>
              el(
                'tr',
                { 'data-event-id': e.eventId },
                el('td', { class: 'mono' }, e.eventId),
                el('td', {}, e.source),
                el('td', { class: 'wrap' }, e.eventType),
                el('td', {}, e.shipmentId),
                el('td', {}, badge(e.status)),
                el('td', {}, formatTime(e.receivedAt)),
              ),
            ),
          ),
        )
      : null,
    sample.length < matched ? el('p', { class: 'muted' }, `A sample of ${sample.length} of the ${matched}.`) : null,
    skipped.length
      ? el(
          'div',
          {},
          el('h4', {}, `Skipped (${skipped.length})`),
          el(
            'ul',
            { class: 'reroute-skipped' },
            skipped.map((s) => el('li', {}, `${s.eventId}: ${s.why}`)),
          ),
        )
      : null,
  );
}

function showProgress(bar, text, status) {
  const matched = status.matched ?? 0;
  bar.max = Math.max(1, matched);
  bar.value = (status.routed ?? 0) + (status.failed ?? 0);
  text.dataset.state = status.state ?? '';
  text.textContent = `${status.state ?? '…'}: ${status.queued ?? 0} queued, ${status.routed ?? 0} routed, ${status.failed ?? 0} failed of ${matched}`;
}

/** Reads the re-route's status every second until it is done (or a newer action takes the panel). */
async function follow(requestId, stillMine, bar, text, result) {
  let failures = 0;
  while (stillMine() && session.key) {
    try {
      const status = await api(`/v1/ops/reroutes/${encodeURIComponent(requestId)}`);
      failures = 0;
      showProgress(bar, text, status);
      if (status.state === 'done') {
        replaceChildren(
          result,
          el(
            'p',
            { class: 'reroute-done' },
            `Re-route done: ${status.routed ?? 0} routed, ${status.failed ?? 0} failed of ${plural(status.matched ?? 0, 'event')}` +
              (status.finishedAt ? `, finished ${formatTime(status.finishedAt)}.` : '.'),
          ),
        );
        return;
      }
    } catch (error) {
      if (error instanceof SignedOut) return;
      failures += 1;
      if (failures >= POLL_FAILURES_MAX) return showError(result, error);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function showError(node, error) {
  if (error instanceof SignedOut) return replaceChildren(node);
  const out = el('div', { class: 'error' });
  report(out, error);
  replaceChildren(node, out);
}
