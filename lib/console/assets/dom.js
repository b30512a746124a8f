/* global document, window */
// Puts values on the page. Every value from the API reaches the page through a text node or an
// attribute, never as markup: nothing here parses HTML.

export const $ = (id) => document.getElementById(id);

/** An element with attributes and children; strings become text nodes, so nothing is parsed as HTML. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof window.Node ? child : document.createTextNode(String(child)));
  }
}

export function replaceChildren(node, ...children) {
  node.replaceChildren();
  append(node, children);
}

export function svg(tag, attrs = {}, text) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

const TO_THE_MILLISECOND = {
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  fractionalSecondDigits: 3,
  hour12: false,
};

/** Local time; to the millisecond in a timeline, where attempts can come within one second. */
export function formatTime(iso, precise = false) {
  if (!iso) return '–';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return date.toLocaleString(undefined, precise ? TO_THE_MILLISECOND : { hour12: false });
}

export function formatAge(seconds) {
  if (!seconds) return '0 s';
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

export const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** A `<dl>` of counts by name: the names in `order` first, then the rest alphabetically. */
export function counts(node, values, order = []) {
  const names = [
    ...order.filter((name) => name in values),
    ...Object.keys(values)
      .filter((name) => !order.includes(name))
      .sort(),
  ];
  const rows = names.map((name) => el('div', {}, el('dt', {}, name), el('dd', { 'data-count': name }, values[name])));
  if (rows.length === 0) rows.push(el('div', {}, el('dt', {}, 'none')));
  replaceChildren(node, rows);
}

export function badge(value) {
  return el('span', { class: `badge ${value}` }, value);
}

/** A `datetime-local` field's value as an ISO instant ('' when empty). */
export function isoOfLocal(value) {
  return value ? new Date(value).toISOString() : '';
}

/** Marks the fields of `form` that a 400's issues name (`aria-invalid`), and clears the others. */
export function markInvalid(form, issues) {
  const named = new Set(issues.map((issue) => issue.path));
  for (const input of form.querySelectorAll('input, select')) {
    if (named.has(input.name)) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  }
}
