import { sampleEvent, signedHeaders } from '../../scripts/sample-event';

/** A small seeded PRNG (mulberry32), so a failing hostile request can be reproduced. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface HostileRequest {
  kind: string;
  method: string;
  path: string;
  headers: Array<[string, string]>;
  body?: string | Buffer;
}

const ODD_STRINGS = [
  '\u0000',
  '\ud800',
  '\udfff',
  '\u202e evil',
  'zero\u200bwidth',
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
  '🚚📦'.repeat(50),
  'ǅ\u0301\u0301\u0301',
  '<script>alert(1)</script>',
  "'; DROP TABLE shipments; --",
  '${jndi:ldap://x}',
  '../../etc/passwd',
  '%00',
  '\r\n\r\n',
];
const WRONG_VALUES: unknown[] = [null, 0, -1, 1e308, true, [], {}, [1, 2], { $gt: '' }, 'x'.repeat(300), ''];
const BAD_TIMESTAMPS = ['', 'abc', '-1', '1.5', '99999999999999999999', '0', String(2 ** 53), ' ', '1e9'];

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

function deeplyNested(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

/**
 * One malformed or hostile request, none of which may be accepted: broken JSON, wrong types,
 * huge strings, deep nesting, prototype-pollution keys, odd unicode, missing or duplicated
 * headers, bad timestamps, wrong content types, methods and paths. Some are signed with the
 * real secret, so the checks after the signature are reached too.
 */
export function hostileRequest(random: () => number, secret: string, maxBodyBytes: number): HostileRequest {
  const signed = (body: string, extra: Array<[string, string]> = []): HostileRequest['headers'] => [
    ...Object.entries(signedHeaders(secret, body)),
    ...extra,
  ];
  const base = sampleEvent() as unknown as Record<string, unknown>;
  const kind = pick(random, [
    'broken-json-signed',
    'broken-json-unsigned',
    'wrong-types',
    'huge-string',
    'over-limit',
    'deep-nesting',
    'proto-keys',
    'odd-unicode',
    'missing-headers',
    'duplicated-headers',
    'bad-timestamp',
    'wrong-content-type',
    'not-an-object',
    'wrong-route',
    'empty-body',
    'binary-body',
  ] as const);
  const post = (body: string | Buffer, headers: HostileRequest['headers']): HostileRequest => ({
    kind,
    method: 'POST',
    path: '/v1/events',
    headers,
    body,
  });
  switch (kind) {
    case 'broken-json-signed': {
      const text = JSON.stringify(base);
      // Cut before the closing brace, so no suffix can make it whole again.
      const body = text.slice(0, Math.floor(random() * (text.length - 1))) + pick(random, ['', ',,', '\u0000', '{"a":', ']']);
      return post(body, signed(body));
    }
    case 'broken-json-unsigned':
      return post('{"eventId": ', [['content-type', 'application/json']]);
    case 'wrong-types': {
      const field = pick(random, ['eventId', 'eventType', 'occurredAt', 'source', 'payload', 'idempotencyKey']);
      const body = JSON.stringify({
        ...base,
        [field]: pick(
          random,
          WRONG_VALUES.filter((v) => typeof v !== 'string' || v.length > 256),
        ),
      });
      return post(body, signed(body));
    }
    case 'huge-string': {
      const body = JSON.stringify({ ...base, eventId: 'x'.repeat(129 + Math.floor(random() * 2000)) });
      return post(body, signed(body));
    }
    case 'over-limit': {
      const body = JSON.stringify({ ...base, pad: 'y'.repeat(maxBodyBytes) });
      return post(body, signed(body));
    }
    case 'deep-nesting': {
      const depth = 17 + Math.floor(random() * 20_000);
      const body = `{"eventId":"e","eventType":"t","occurredAt":"2026-01-01T00:00:00Z","source":"s","payload":{"shipmentId":"S","status":"X","deep":${deeplyNested(depth)}}}`;
      return post(body, signed(body));
    }
    case 'proto-keys': {
      // Also missing its payload, so even a server fooled by the keys has nothing valid to queue.
      const body = pick(random, [
        '{"__proto__":{"eventId":"p","payload":{"shipmentId":"S","status":"X"}},"eventType":"t"}',
        '{"constructor":{"prototype":{"polluted":true}},"eventId":"p"}',
        '{"eventId":"p","payload":{"__proto__":{"shipmentId":"S","status":"X"}},"eventType":"t","occurredAt":"2026-01-01T00:00:00Z","source":"s"}',
      ]);
      return post(body, signed(body));
    }
    case 'odd-unicode': {
      const body = JSON.stringify({ ...base, occurredAt: pick(random, ODD_STRINGS), source: pick(random, ODD_STRINGS) });
      return post(body, signed(body));
    }
    case 'missing-headers': {
      const body = JSON.stringify(base);
      const headers = signed(body);
      headers.splice(1 + Math.floor(random() * 2), 1);
      return post(body, headers);
    }
    case 'duplicated-headers': {
      const body = JSON.stringify(base);
      const headers = signed(body);
      const [name, value] = headers[1 + Math.floor(random() * 2)]!;
      return post(body, [...headers, [name, value.split('').reverse().join('')]]);
    }
    case 'bad-timestamp': {
      const body = JSON.stringify(base);
      return post(
        body,
        signed(body).map(([name, value]) => [name, name === 'x-signature-timestamp' ? pick(random, BAD_TIMESTAMPS) : value]),
      );
    }
    case 'wrong-content-type': {
      const body = JSON.stringify(base);
      const type = pick(random, [
        'text/plain',
        'application/xml',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/jsonp',
      ]);
      return post(
        body,
        signed(body).map(([name, value]) => [name, name === 'content-type' ? type : value]),
      );
    }
    case 'not-an-object': {
      const body = pick(random, ['null', '42', '"string"', '[]', '[{"eventId":"e"}]', 'true']);
      return post(body, signed(body));
    }
    case 'wrong-route':
      return {
        kind,
        method: pick(random, ['GET', 'PUT', 'DELETE', 'PATCH']),
        path: pick(random, ['/v1/events', '/v1/event', '/v2/events', '/v1/sources//events']),
        headers: [],
      };
    case 'empty-body':
      return post('', signed(''));
    case 'binary-body': {
      const bytes = Buffer.from(Array.from({ length: 64 }, () => Math.floor(random() * 256)));
      return post(bytes, signed(bytes.toString('latin1')));
    }
  }
}
