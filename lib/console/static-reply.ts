import { createHash } from 'node:crypto';
import type { HttpReply } from '../http/reply';

/**
 * The console's headers: no inline script or style, nothing from another origin, no framing,
 * and its API calls only to the gateway that served it.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/** One file the console serves. */
export interface StaticAsset {
  body: string;
  contentType: string;
  cacheControl: string;
  etag: string;
}

export type AssetTable = ReadonlyMap<string, StaticAsset>;

/** `"<sha-256 prefix>"`: the asset's version, in its ETag and in the page's links to it. */
export function versionOf(body: string): string {
  return createHash('sha256').update(body).digest('hex').slice(0, 16);
}

export interface ConsoleSources {
  html: string;
  /** The browser's modules by file name; `console.js` is the one the page loads, the rest it imports. */
  scripts: Readonly<Record<string, string>>;
  style: string;
}

/** A static import of a sibling module: `from './dom.js'`. */
const SIBLING_IMPORT = /(\bfrom\s+)(['"])\.\/([A-Za-z0-9-]+\.js)\2/g;

/**
 * The modules with their imports of each other pinned to one version of them all: a change to any
 * module changes every URL, so each can be cached for good and a deploy never mixes old and new.
 */
function versionedScripts(scripts: Readonly<Record<string, string>>): { version: string; bodies: Map<string, string> } {
  const names = Object.keys(scripts).sort();
  const version = versionOf(names.map((name) => `${name}\n${scripts[name]}`).join('\n'));
  const bodies = new Map<string, string>();
  for (const name of names) {
    const body = scripts[name]!.replace(SIBLING_IMPORT, (_, from: string, quote: string, imported: string) => {
      if (!(imported in scripts)) throw new Error(`console module ${name} imports ${imported}, which the console does not serve`);
      return `${from}${quote}./${imported}?v=${version}${quote}`;
    });
    bodies.set(name, body);
  }
  return { version, bodies };
}

/**
 * The console's files by the name in their URL (`/ops` is the page, `/ops/{asset}` the rest).
 * The page links to the scripts and the style by their content version, so those can be cached
 * for a year and a new deploy is still picked up: the page itself is revalidated every time.
 */
export function consoleAssets(sources: ConsoleSources): AssetTable {
  const scripts = versionedScripts(sources.scripts);
  const styleVersion = versionOf(sources.style);
  const html = sources.html.replaceAll('__SCRIPT_VERSION__', scripts.version).replaceAll('__STYLE_VERSION__', styleVersion);
  const immutable = 'public, max-age=31536000, immutable';
  return new Map<string, StaticAsset>([
    ['', { body: html, contentType: 'text/html; charset=utf-8', cacheControl: 'no-cache', etag: `"${versionOf(html)}"` }],
    ...[...scripts.bodies].map(([name, body]): [string, StaticAsset] => [
      name,
      { body, contentType: 'text/javascript; charset=utf-8', cacheControl: immutable, etag: `"${versionOf(body)}"` },
    ]),
    ['console.css', { body: sources.style, contentType: 'text/css; charset=utf-8', cacheControl: immutable, etag: `"${styleVersion}"` }],
  ]);
}

/**
 * The reply for `name` (empty for the page): the file with its type, cache policy and the
 * console's security headers; 304 when the browser already holds this version; 404 for any
 * other name.
 */
export function staticReply(assets: AssetTable, name: string, ifNoneMatch?: string): HttpReply {
  const asset = assets.get(name);
  if (!asset) {
    return { statusCode: 404, headers: { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8' }, body: 'not found' };
  }
  const headers = { ...SECURITY_HEADERS, 'cache-control': asset.cacheControl, etag: asset.etag };
  if (ifNoneMatch && ifNoneMatch.split(',').some((tag) => tag.trim() === asset.etag)) {
    return { statusCode: 304, headers, body: '' };
  }
  return { statusCode: 200, headers: { ...headers, 'content-type': asset.contentType }, body: asset.body };
}
