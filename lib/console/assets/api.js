/* global sessionStorage, fetch, URLSearchParams, Headers */
// The one module that calls the gateway: the operator key in `x-api-key`, never in a URL.
import { el, replaceChildren } from './dom.js';

const KEY_STORAGE = 'gateway-console-key';

/** The signed-in key (kept in this tab's session storage) and what to do when the gateway refuses it. */
export const session = {
  key: sessionStorage.getItem(KEY_STORAGE) || '',
  refused: () => undefined,
};

export function keepKey(key) {
  session.key = key;
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

/** Thrown after a 401 has signed the console out: callers show nothing more. */
export class SignedOut extends Error {}

/** A reply other than 2xx: its status, the gateway's message and, for a 400, the fields at fault. */
export class ApiError extends Error {
  constructor(status, message, issues = []) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.issues = issues;
  }
}

/** Calls the gateway with the operator key in `x-api-key`; a 401 signs the console out. */
export async function api(path, init = {}) {
  const headers = new Headers(init.headers);
  headers.set('x-api-key', session.key);
  if (init.body !== undefined) headers.set('content-type', 'application/json');
  const response = await fetch(path, { ...init, headers, credentials: 'omit', cache: 'no-store' });
  if (response.status === 401) {
    session.refused('The gateway refused this key: it may have been rotated. Sign in again.');
    throw new SignedOut();
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const issues = Array.isArray(body?.error?.details) ? body.error.details : [];
    throw new ApiError(response.status, body?.error?.message || `the gateway replied ${response.status}`, issues);
  }
  return body;
}

/** POSTs `body` as JSON. */
export function post(path, body) {
  return api(path, { method: 'POST', body: JSON.stringify(body) });
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined && value !== '') search.set(name, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** Shows why a call failed in `node`: the message and, for a 400, each field and what is wrong with it. */
export function report(node, error) {
  if (error instanceof SignedOut) return;
  const issues = error instanceof ApiError ? error.issues : [];
  replaceChildren(
    node,
    error instanceof Error ? error.message : String(error),
    issues.length
      ? el(
          'ul',
          { class: 'issues' },
          issues.map((issue) => el('li', { 'data-field': issue.path }, `${issue.path}: ${issue.message}`)),
        )
      : null,
  );
}
