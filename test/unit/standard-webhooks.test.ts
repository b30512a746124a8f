import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { SignatureError } from '../../lib/errors';
import { verifyRequestSignature } from '../../lib/ingest/signature';

const secret = `whsec_${randomBytes(24).toString('base64')}`;
const body = '{"eventId":"e-1"}';

/** Signs with the scheme's published reference library, as a producer using it would. */
function signedWithLibrary(key: string, id = 'msg_2Kx', at = new Date()) {
  const signature = new Webhook(key).sign(id, at, body);
  return { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': signature };
}

const options = { secrets: [secret], toleranceSeconds: 300 };

describe('Standard Webhooks signatures', () => {
  it('accepts a request signed by the standardwebhooks library and returns its message id', () => {
    const verified = verifyRequestSignature(Buffer.from(body), signedWithLibrary(secret), options);
    expect(verified).toEqual({ scheme: 'standard-webhooks', webhookId: 'msg_2Kx' });
  });

  it('accepts when any one of several space-separated signatures matches (the producer is rotating)', () => {
    const other = `whsec_${randomBytes(24).toString('base64')}`;
    const headers = signedWithLibrary(secret);
    headers['webhook-signature'] = `${signedWithLibrary(other)['webhook-signature']} ${headers['webhook-signature']}`;
    expect(verifyRequestSignature(Buffer.from(body), headers, options).scheme).toBe('standard-webhooks');
  });

  it('rejects a signature by another key, a changed body, a changed id and a stale timestamp', () => {
    const stranger = `whsec_${randomBytes(24).toString('base64')}`;
    expect(() => verifyRequestSignature(Buffer.from(body), signedWithLibrary(stranger), options)).toThrow(SignatureError);
    expect(() => verifyRequestSignature(Buffer.from(body + ' '), signedWithLibrary(secret), options)).toThrow(SignatureError);
    expect(() => verifyRequestSignature(Buffer.from(body), { ...signedWithLibrary(secret), 'webhook-id': 'msg_other' }, options)).toThrow(
      SignatureError,
    );
    const stale = signedWithLibrary(secret, 'msg_old', new Date(Date.now() - 301_000));
    expect(() => verifyRequestSignature(Buffer.from(body), stale, options)).toThrow(SignatureError);
  });

  it('agrees with the library on what it accepts', () => {
    const headers = signedWithLibrary(secret);
    expect(() => new Webhook(secret).verify(body, headers)).not.toThrow();
    expect(() => verifyRequestSignature(Buffer.from(body), headers, options)).not.toThrow();
  });

  it('ignores unknown signature versions', () => {
    const headers = signedWithLibrary(secret);
    headers['webhook-signature'] = headers['webhook-signature'].replace('v1,', 'v2,');
    expect(() => verifyRequestSignature(Buffer.from(body), headers, options)).toThrow(SignatureError);
  });
});
