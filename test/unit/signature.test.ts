import { describe, expect, it } from 'vitest';
import { SignatureError } from '../../lib/errors';
import { signBody, verifySignature } from '../../lib/ingest/signature';

const NOW = 1_800_000_000;
const body = Buffer.from('{"eventId":"e-1","note":"naïve café"}');
const sign = (secret: string, ts = NOW, bytes: Buffer = body) => signBody(secret, String(ts), bytes);
const options = { secrets: ['current'], toleranceSeconds: 300, nowSeconds: NOW };

describe('request signatures', () => {
  it('accepts a body signed with the current secret over its exact bytes', () => {
    expect(() => verifySignature(body, sign('current'), String(NOW), options)).not.toThrow();
  });

  it('accepts either secret while a rotation is in progress', () => {
    const rotating = { ...options, secrets: ['new', 'old'] };
    expect(() => verifySignature(body, sign('old'), String(NOW), rotating)).not.toThrow();
    expect(() => verifySignature(body, sign('new'), String(NOW), rotating)).not.toThrow();
  });

  it('rejects a body signed with a rotated-out secret', () => {
    expect(() => verifySignature(body, sign('old'), String(NOW), { ...options, secrets: ['new'] })).toThrow(SignatureError);
  });

  it('rejects a body changed by a single byte after signing', () => {
    const tampered = Buffer.from(body);
    tampered[5] = tampered[5]! ^ 1;
    expect(() => verifySignature(tampered, sign('current'), String(NOW), options)).toThrow(SignatureError);
  });

  it('rejects a re-serialised body: the signature covers the raw bytes, not the JSON value', () => {
    const reserialised = Buffer.from(JSON.stringify(JSON.parse(body.toString()), null, 1));
    expect(() => verifySignature(reserialised, sign('current'), String(NOW), options)).toThrow(SignatureError);
  });

  it('rejects timestamps older or further ahead than the tolerance, and accepts the edge', () => {
    for (const ts of [NOW - 301, NOW + 301]) {
      expect(() => verifySignature(body, sign('current', ts), String(ts), options)).toThrow(SignatureError);
    }
    for (const ts of [NOW - 300, NOW + 300]) {
      expect(() => verifySignature(body, sign('current', ts), String(ts), options)).not.toThrow();
    }
  });

  it('rejects a signature made for another timestamp than the one sent', () => {
    expect(() => verifySignature(body, sign('current', NOW - 10), String(NOW), options)).toThrow(SignatureError);
  });

  it.each([
    ['missing signature', undefined, String(NOW)],
    ['missing timestamp', 'sha256=' + 'a'.repeat(64), undefined],
    ['no scheme prefix', 'a'.repeat(64), String(NOW)],
    ['short hex', 'sha256=abcd', String(NOW)],
    ['non-hex', 'sha256=' + 'z'.repeat(64), String(NOW)],
    ['non-numeric timestamp', 'sha256=' + 'a'.repeat(64), '17e8'],
    ['negative timestamp', 'sha256=' + 'a'.repeat(64), '-1'],
  ])('rejects a request with %s, with the same message', (_case, signature, timestamp) => {
    expect(() => verifySignature(body, signature, timestamp, options)).toThrow('missing, invalid or expired signature');
  });
});
