import { createHmac, timingSafeEqual } from 'node:crypto';
import { SignatureError } from '../errors';

/** Header names of the gateway's own signing scheme. */
export const SIGNATURE_HEADER = 'x-signature';
export const TIMESTAMP_HEADER = 'x-signature-timestamp';

/** Header names of the Standard Webhooks scheme (https://www.standardwebhooks.com). */
export const WEBHOOK_ID_HEADER = 'webhook-id';
export const WEBHOOK_TIMESTAMP_HEADER = 'webhook-timestamp';
export const WEBHOOK_SIGNATURE_HEADER = 'webhook-signature';
const STANDARD_SECRET_PREFIX = 'whsec_';

const SIGNATURE_PATTERN = /^sha256=([0-9a-f]{64})$/i;
const TIMESTAMP_PATTERN = /^\d{1,12}$/;
const WEBHOOK_ID_PATTERN = /^[\x21-\x7e]{1,256}$/;
const STANDARD_SIGNATURE_PATTERN = /^v1,([A-Za-z0-9+/]{43}=)$/;

/** Which scheme a request was signed with, and what that scheme told us. */
export interface VerifiedSignature {
  scheme: 'gateway' | 'standard-webhooks';
  /** Standard Webhooks' message id: the idempotency key when the body has none. */
  webhookId?: string;
}

export interface SignatureOptions {
  /** Every secret valid right now; more than one during a rotation. */
  secrets: readonly string[];
  /** How far the timestamp may be from now, either way. */
  toleranceSeconds: number;
  /** Unix seconds; injectable so tests need no clock. */
  nowSeconds?: number;
}

function digest(secret: string, timestamp: string, rawBody: Buffer): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest();
}

/**
 * The `x-signature` value for a body: `sha256=` + hex HMAC-SHA256 of `<timestamp>.<raw body>`.
 *
 * @example
 * const ts = String(Math.floor(Date.now() / 1000));
 * fetch(url, { headers: { 'x-signature-timestamp': ts, 'x-signature': signBody('s3cret', ts, body) }, body });
 */
export function signBody(secret: string, timestamp: string, rawBody: Buffer | string): string {
  const bytes = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody;
  return `sha256=${digest(secret, timestamp, bytes).toString('hex')}`;
}

/**
 * Checks a request's signature over the exact bytes received. Throws {@link SignatureError}
 * (one message whatever failed) unless the timestamp is within tolerance and the signature
 * matches one of the valid secrets. The comparison is constant-time.
 */
export function verifySignature(
  rawBody: Buffer,
  signatureHeader: string | undefined,
  timestampHeader: string | undefined,
  options: SignatureOptions,
): void {
  const match = signatureHeader === undefined ? null : SIGNATURE_PATTERN.exec(signatureHeader.trim());
  const timestamp = checkedTimestamp(timestampHeader, options);
  if (!match) throw new SignatureError();
  const received = Buffer.from(match[1]!, 'hex');
  let valid = false;
  // Every secret is tried, so the time taken does not tell which one matched.
  for (const secret of options.secrets) {
    if (timingSafeEqual(digest(secret, timestamp, rawBody), received)) valid = true;
  }
  if (!valid) throw new SignatureError();
}

/** The timestamp header, if it is a number of seconds within tolerance of now. */
function checkedTimestamp(header: string | undefined, options: SignatureOptions): string {
  const timestamp = header?.trim();
  if (timestamp === undefined || !TIMESTAMP_PATTERN.test(timestamp)) throw new SignatureError();
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - Number(timestamp)) > options.toleranceSeconds) throw new SignatureError();
  return timestamp;
}

/** A Standard Webhooks secret is `whsec_<base64 key>`; any other secret is used as its UTF-8 bytes. */
function standardKey(secret: string): Buffer {
  return secret.startsWith(STANDARD_SECRET_PREFIX)
    ? Buffer.from(secret.slice(STANDARD_SECRET_PREFIX.length), 'base64')
    : Buffer.from(secret, 'utf8');
}

/**
 * Checks a request signed with the Standard Webhooks scheme: `webhook-signature` holds one or
 * more space-separated `v1,<base64 HMAC-SHA256>` of `<webhook-id>.<webhook-timestamp>.<raw body>`.
 * Returns the message id. Throws {@link SignatureError} like {@link verifySignature}.
 */
export function verifyStandardWebhook(rawBody: Buffer, headers: Record<string, string | undefined>, options: SignatureOptions): string {
  const id = headers[WEBHOOK_ID_HEADER]?.trim();
  if (id === undefined || !WEBHOOK_ID_PATTERN.test(id)) throw new SignatureError();
  const timestamp = checkedTimestamp(headers[WEBHOOK_TIMESTAMP_HEADER], options);
  const received = (headers[WEBHOOK_SIGNATURE_HEADER] ?? '')
    .split(' ')
    .map((candidate) => STANDARD_SIGNATURE_PATTERN.exec(candidate)?.[1])
    .filter((b64): b64 is string => b64 !== undefined)
    .map((b64) => Buffer.from(b64, 'base64'));
  if (received.length === 0) throw new SignatureError();
  let valid = false;
  for (const secret of options.secrets) {
    const expected = createHmac('sha256', standardKey(secret)).update(`${id}.${timestamp}.`).update(rawBody).digest();
    for (const signature of received) {
      if (timingSafeEqual(expected, signature)) valid = true;
    }
  }
  if (!valid) throw new SignatureError();
  return id;
}

/**
 * Verifies a request with whichever scheme its headers use: Standard Webhooks when a
 * `webhook-signature` header is present, the gateway's own `x-signature` otherwise.
 */
export function verifyRequestSignature(
  rawBody: Buffer,
  headers: Record<string, string | undefined>,
  options: SignatureOptions,
): VerifiedSignature {
  if (headers[WEBHOOK_SIGNATURE_HEADER] !== undefined) {
    return { scheme: 'standard-webhooks', webhookId: verifyStandardWebhook(rawBody, headers, options) };
  }
  verifySignature(rawBody, headers[SIGNATURE_HEADER], headers[TIMESTAMP_HEADER], options);
  return { scheme: 'gateway' };
}
