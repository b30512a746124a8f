/* global setTimeout, clearTimeout */
// Pauses: the banner every page shows while anything is paused (what, since when, by whom, why,
// how many events held, and Resume), and the overview's Pause form.
import { api, post, report, SignedOut } from './api.js';
import { $, el, formatTime, plural, replaceChildren } from './dom.js';

const ALL_SOURCES = '*';
const NOTE_MS = 15_000;
let noteTimer;

const scopeName = (scope) => (scope === ALL_SOURCES ? 'the whole gateway' : `source ${scope}`);

/** Reads the pauses and shows them in the banner; the banner is hidden while nothing is paused. */
export async function refreshPauses() {
  try {
    const { pauses = [] } = await api('/v1/ops/pauses');
    renderBanner(pauses);
  } catch (error) {
    if (!(error instanceof SignedOut)) report($('pause-banner-error'), error);
  }
}

function renderBanner(pauses) {
  $('pause-banner-error').replaceChildren();
  replaceChildren(
    $('pause-list'),
    pauses.map((pause) =>
      el(
        'li',
        { 'data-scope': pause.scope },
        el('strong', { class: 'scope' }, `Paused: ${scopeName(pause.scope)}`),
        el('span', {}, ' since ', el('time', { class: 'since', datetime: pause.since }, formatTime(pause.since))),
        el('span', {}, ' by ', el('span', { class: 'by mono' }, pause.by ?? 'a function (no key)')),
        el('span', {}, ' — ', el('q', { class: 'reason' }, pause.reason)),
        el('span', {}, ' — ', el('span', { class: 'held', 'data-held': pause.held }, plural(pause.held ?? 0, 'event')), ' held'),
        el(
          'button',
          { type: 'button', class: 'resume secondary', onclick: (event) => void resume(pause.scope, event.currentTarget) },
          `Resume ${pause.scope === ALL_SOURCES ? 'everything' : pause.scope}`,
        ),
      ),
    ),
  );
  $('pause-banner').hidden = pauses.length === 0;
}

async function resume(scope, button) {
  button.disabled = true;
  try {
    const result = await post('/v1/ops/pauses/resume', scope === ALL_SOURCES ? {} : { source: scope });
    note(`Resumed ${scopeName(scope)}: ${plural(result.held ?? 0, 'held event')} go on within a few seconds.`);
  } catch (error) {
    report($('pause-banner-error'), error);
  } finally {
    button.disabled = false;
    await refreshPauses();
  }
}

/** A line under the banner that says what was just done, for a while. */
function note(text) {
  clearTimeout(noteTimer);
  $('pause-note').textContent = text;
  noteTimer = setTimeout(() => ($('pause-note').textContent = ''), NOTE_MS);
}

async function pause(form) {
  const scope = form.elements['pause-scope'].value;
  const source = form.elements['pause-source'].value.trim();
  const reason = form.elements['pause-reason'].value.trim();
  const out = $('pause-error');
  out.replaceChildren();
  if (scope === 'source' && !source) return (out.textContent = 'Name the source to pause, or choose the whole gateway.');
  try {
    const { paused } = await post('/v1/ops/pauses', scope === 'source' ? { source, reason } : { reason });
    form.elements['pause-reason'].value = '';
    note(`Paused ${scopeName(paused.scope)}: its events are accepted and held until it is resumed.`);
  } catch (error) {
    report(out, error);
  }
  await refreshPauses();
}

export function wirePauses() {
  const form = $('pause-form');
  const sourceField = form.elements['pause-source'];
  const scopeChanged = () => (sourceField.disabled = form.elements['pause-scope'].value !== 'source');
  for (const radio of form.querySelectorAll('input[name="pause-scope"]')) radio.addEventListener('change', scopeChanged);
  scopeChanged();
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void pause(form);
  });
}

export function clearPauses() {
  clearTimeout(noteTimer);
  $('pause-banner').hidden = true;
  $('pause-list').replaceChildren();
  $('pause-note').textContent = '';
}
