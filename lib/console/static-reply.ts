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
  script: string;
  style: string;
}

/**
 * The console's files by the name in their URL (`/ops` is the page, `/ops/{asset}` the rest).
 * The page links to the script and the style by their content version, so those can be cached
 * for a year and a new deploy is still picked up: the page itself is revalidated every time.
 */
export function consoleAssets(sources: ConsoleSources): AssetTable {
  const scriptVersion = versionOf(sources.script);
  const styleVersion = versionOf(sources.style);
  const html = sources.html.replaceAll('__SCRIPT_VERSION__', scriptVersion).replaceAll('__STYLE_VERSION__', styleVersion);
  const immutable = 'public, max-age=31536000, immutable';
  return new Map<string, StaticAsset>([
    ['', { body: html, contentType: 'text/html; charset=utf-8', cacheControl: 'no-cache', etag: `"${versionOf(html)}"` }],
    [
      'console.js',
      { body: sources.script, contentType: 'text/javascript; charset=utf-8', cacheControl: immutable, etag: `"${scriptVersion}"` },
    ],
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
