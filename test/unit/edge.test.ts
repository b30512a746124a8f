import { describe, expect, it } from 'vitest';
import { connectionConfig, ingestConfig, secretValues, workerConfig } from '../../lib/config';
import {
  ConfigError,
  EventNotFoundError,
  PayloadTooLargeError,
  QueueUnavailableError,
  SignatureError,
  ValidationError,
} from '../../lib/errors';
import { replyForError } from '../../lib/http/error-replies';
import { decideRoute } from '../../lib/routing/simulated-routing-service';
import type { ShipmentEvent } from '../../lib/events/schema';

describe('error replies', () => {
  it('maps each error class to its status code, in one place', () => {
    expect(replyForError(new ValidationError([{ path: 'eventId', message: 'Required' }])).statusCode).toBe(400);
    expect(replyForError(new SignatureError()).statusCode).toBe(401);
    expect(replyForError(new EventNotFoundError('x')).statusCode).toBe(404);
    expect(replyForError(new PayloadTooLargeError(10)).statusCode).toBe(413);
    expect(replyForError(new QueueUnavailableError(7)).statusCode).toBe(503);
  });

  it('lists field errors in a 400 and a Retry-After on a 503', () => {
    const invalid = replyForError(new ValidationError([{ path: 'payload.status', message: 'Required' }]));
    expect(JSON.parse(invalid.body)).toEqual({
      error: {
        code: 'VALIDATION_FAILED',
        message: 'the event does not match the schema',
        details: [{ path: 'payload.status', message: 'Required' }],
      },
    });
    expect(replyForError(new QueueUnavailableError(7)).headers['retry-after']).toBe('7');
  });

  it('says nothing about internals in a 500', () => {
    const reply = replyForError(new Error('connection string mongodb://user:pw@host'));
    expect(reply.statusCode).toBe(500);
    expect(reply.body).not.toContain('mongodb');
  });
});

describe('configuration', () => {
  it('fails at start-up naming the variable that is wrong', () => {
    expect(() => ingestConfig({ MAX_BACKLOG: '0' })).toThrow(ConfigError);
    expect(() => ingestConfig({ MAX_BACKLOG: '0' })).toThrow(/MAX_BACKLOG/);
    expect(() => secretValues({ SOURCE_SECRETS: 'dhl' })).toThrow(/SOURCE_SECRETS/);
    expect(() => workerConfig({ WORKER_CONCURRENCY: 'lots' })).toThrow(/WORKER_CONCURRENCY/);
    expect(() => connectionConfig({ REDIS_URL: 'not a url' })).toThrow(/REDIS_URL/);
  });

  it('keeps the enqueue timeout below the function timeout, so a hung enqueue is a 503 of its own', () => {
    expect(ingestConfig({ ENQUEUE_TIMEOUT_MS: '9000' }).enqueueTimeoutMs).toBe(9000);
    expect(() => ingestConfig({ ENQUEUE_TIMEOUT_MS: '20000' })).toThrow(/ENQUEUE_TIMEOUT_MS/);
  });

  it('reads several comma-separated secrets for rotation', () => {
    expect(secretValues({ WEBHOOK_SECRETS: ' new , old ,' }).webhookSecrets).toEqual(['new', 'old']);
  });

  it('takes the database name from MONGO_URL unless MONGO_DB is set', () => {
    expect(connectionConfig({ MONGO_URL: 'mongodb://h:27017/couriers' }).mongoDb).toBe('couriers');
    expect(connectionConfig({ MONGO_URL: 'mongodb://h:27017/couriers', MONGO_DB: 'other' }).mongoDb).toBe('other');
    expect(connectionConfig({ MONGO_URL: 'mongodb://h:27017' }).mongoDb).toBe('gateway');
  });
});

describe('the routing rule', () => {
  const event = (payload: Record<string, unknown> = {}): ShipmentEvent => ({
    eventId: 'e',
    eventType: 't',
    occurredAt: '2026-01-01T00:00:00Z',
    source: 's',
    idempotencyKey: 's:e',
    payload: { shipmentId: 'S-1', status: 'IN_TRANSIT', ...payload },
  });

  it('holds events for a shipment that is already delivered', () => {
    const shipment = {
      _id: 'S-1',
      status: 'DELIVERED',
      lastEventId: 'x',
      lastEventAt: new Date(),
      history: [],
      updatedAt: new Date(),
      version: 1,
      firstEventId: 'x',
    };
    expect(decideRoute({ event: event(), shipment }).lane).toBe('hold');
  });

  it('sends express service levels down the express lane, always to the same hub per shipment', () => {
    const a = decideRoute({ event: event({ serviceLevel: 'EXPRESS' }), shipment: null });
    const b = decideRoute({ event: event(), shipment: null });
    expect(a.lane).toBe('express');
    expect(b.lane).toBe('standard');
    expect(a.hub).toBe(b.hub);
  });
});

describe('parsing untrusted JSON', () => {
  it('drops __proto__ and constructor.prototype keys, so nothing reaches a prototype', async () => {
    const { withoutPrototypeKeys } = await import('../../lib/http/verify-signed-body');
    const parsed = JSON.parse(
      '{"a":1,"__proto__":{"polluted":true},"b":{"constructor":{"prototype":{"polluted":true}},"__proto__":{"x":1}}}',
      withoutPrototypeKeys,
    ) as Record<string, object>;
    expect(Object.keys(parsed)).toEqual(['a', 'b']);
    expect(Object.keys(parsed.b!)).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('.env.example', () => {
  it('lists every variable the config module reads', async () => {
    const { readFileSync } = await import('node:fs');
    const source = readFileSync('lib/config.ts', 'utf8');
    const read = [...source.matchAll(/^\s+([A-Z][A-Z0-9_]+): /gm)].map((m) => m[1]);
    const listed = new Set([...readFileSync('.env.example', 'utf8').matchAll(/^([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
    expect(read.length).toBeGreaterThan(20);
    expect(read.filter((name) => !listed.has(name))).toEqual([]);
  });
});
