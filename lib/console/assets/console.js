/* global document, fetch, setTimeout, clearTimeout */
// The operator console: plain browser JavaScript modules, no framework, no third-party origin, one
// module per page. Every value from the API reaches the page through dom.js (text nodes and
// attributes, never markup); every call to the gateway goes through api.js.
import { keepKey, session } from './api.js';
import { showAudit, wireAudit } from './audit.js';
import { showDeadLetters, wireDeadLetters } from './dead-letters.js';
import { $ } from './dom.js';
import { wireEvent } from './event.js';
import { showEvents, wireEvents } from './events.js';
import { current, hideAll, show, whenShown } from './nav.js';
import { forgetSamples, refreshOverview } from './overview.js';
import { clearPauses, refreshPauses, wirePauses } from './pauses.js';

const REFRESH_MS = 3000;
let timer;

async function signIn(key) {
  const response = await fetch('/v1/ops/stats', { headers: { 'x-api-key': key }, credentials: 'omit', cache: 'no-store' });
  if (response.status === 401) return 'That key was refused. Check it and try again.';
  if (!response.ok) return `The gateway could not check the key (HTTP ${response.status}). Try again shortly.`;
  keepKey(key);
  $('sign-in').hidden = true;
  $('nav').hidden = false;
  $('sign-out').hidden = false;
  show(current.view);
  void refreshPauses();
  startRefresh();
  return '';
}

function signOut(message = '') {
  keepKey('');
  clearTimeout(timer);
  timer = undefined;
  forgetSamples();
  clearPauses();
  hideAll();
  $('nav').hidden = true;
  $('sign-out').hidden = true;
  $('sign-in').hidden = false;
  $('operator-key').value = '';
  $('sign-in-error').textContent = message;
  $('operator-key').focus();
}

/** Every 3 s while signed in: the overview's counts and charts (kept even while another page shows) and the pause banner. */
function startRefresh() {
  clearTimeout(timer);
  const tick = async () => {
    if (!session.key) return;
    await Promise.all([refreshOverview(), refreshPauses()]).catch(() => undefined);
    if (session.key) timer = setTimeout(tick, REFRESH_MS);
  };
  timer = setTimeout(tick, REFRESH_MS);
}

function wire() {
  session.refused = signOut;
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

  whenShown('overview', () => void refreshOverview());
  whenShown('dead-letters', showDeadLetters);
  whenShown('events', showEvents);
  whenShown('audit', showAudit);
  wireDeadLetters();
  wireEvent();
  wireEvents();
  wireAudit();
  wirePauses();

  if (session.key) {
    void signIn(session.key).then((message) => {
      if (message) signOut(message);
    });
  } else {
    $('operator-key').focus();
  }
}

wire();
