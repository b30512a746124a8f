import { createHmac, timingSafeEqual } from 'node:crypto';
import { SignatureError } from '../errors';

/** Header names of the gateway's own signing scheme. */
export const SIGNATURE_HEADER = 'x-signature';
export const TIMESTAMP_HEADER = 'x-signature-timestamp';

const SIGNATURE_PATTERN = /^sha256=([0-9a-f]{64})$/i;
const TIMESTAMP_PATTERN = /^\d{1,12}$/;

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
  const timestamp = timestampHeader?.trim();
  if (!match || timestamp === undefined || !TIMESTAMP_PATTERN.test(timestamp)) {
    throw new SignatureError();
  }
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - Number(timestamp)) > options.toleranceSeconds) {
    throw new SignatureError();
  }
  const received = Buffer.from(match[1]!, 'hex');
  let valid = false;
  // Every secret is tried, so the time taken does not tell which one matched.
  for (const secret of options.secrets) {
    if (timingSafeEqual(digest(secret, timestamp, rawBody), received)) valid = true;
  }
  if (!valid) throw new SignatureError();
}
