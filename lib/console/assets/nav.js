/* global document */
// Which page shows: one section per view, the nav's current button, and what a view does when shown.
import { $ } from './dom.js';

export const VIEWS = ['overview', 'dead-letters', 'events', 'event', 'audit'];
const onShow = new Map();
export const current = { view: 'overview' };

/** What `view` loads each time it is shown. */
export function whenShown(view, load) {
  onShow.set(view, load);
}

export function show(view) {
  current.view = view;
  for (const id of VIEWS) $(id).hidden = id !== view;
  for (const button of document.querySelectorAll('#nav button')) {
    if (button.dataset.view === view) button.setAttribute('aria-current', 'page');
    else button.removeAttribute('aria-current');
  }
  onShow.get(view)?.();
}

export function hideAll() {
  for (const id of VIEWS) $(id).hidden = true;
}
