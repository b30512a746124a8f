/* global setTimeout */
// A paged search of the operator API on a page: its form, its table and its pages. The Events
// and Audit pages are two of them.
import { api, ApiError, query, report } from './api.js';
import { $, markInvalid } from './dom.js';

/**
 * Loads one page of a search into its page: `<prefix>-table` is marked busy meanwhile; a 400's
 * message goes to `<prefix>-error` and its fields are marked on `<prefix>-filter`; an answer
 * overtaken by a newer load is dropped. `state` keeps the filter, the page's cursor and the next
 * one; `render` puts the page's items on the page.
 */
export async function loadPage(prefix, state, path, cursor, render) {
  const table = $(`${prefix}-table`);
  const ticket = (state.loads += 1);
  table.setAttribute('aria-busy', 'true');
  try {
    const page = await api(`${path}${query({ ...state.filter, cursor })}`);
    if (ticket !== state.loads) return;
    $(`${prefix}-error`).replaceChildren();
    markInvalid($(`${prefix}-filter`), []);
    state.cursor = cursor;
    state.nextCursor = page.nextCursor;
    render(page);
  } catch (error) {
    if (ticket !== state.loads) return;
    report($(`${prefix}-error`), error);
    markInvalid($(`${prefix}-filter`), error instanceof ApiError ? error.issues : []);
  } finally {
    if (ticket === state.loads) table.setAttribute('aria-busy', 'false');
  }
}
/**
 * Wires a paged search: the form `<prefix>-filter` searches from the first page (its reset clears
 * the filter and searches again), and `<prefix>-next`, `-prev` and `-first` move between pages.
 * `state` keeps the filter, the page's cursor, the next one and the cursors of the pages before.
 */
export function wirePaging(prefix, state, readFilter, load) {
  const form = $(`${prefix}-filter`);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    state.filter = readFilter();
    state.cursors = [];
    void load(undefined);
  });
  form.addEventListener('reset', () => setTimeout(() => form.requestSubmit(), 0));
  $(`${prefix}-next`).addEventListener('click', () => {
    if (!state.nextCursor) return;
    state.cursors.push(state.cursor);
    void load(state.nextCursor);
  });
  $(`${prefix}-prev`).addEventListener('click', () => void load(state.cursors.pop()));
  $(`${prefix}-first`).addEventListener('click', () => {
    state.cursors = [];
    void load(undefined);
  });
}
