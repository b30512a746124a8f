import { EventEmitter } from 'node:events';
import http from 'node:http';
import { createRequire } from 'node:module';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';

interface FairAcceptPlugin {
  new (serverless: unknown): { hooks: Record<string, () => void> };
  deferRequests(): () => void;
}
// The plugin is plain JavaScript, loaded by the framework with require.
const FairAccept = createRequire(import.meta.url)('../../scripts/offline-fair-accept') as FairAcceptPlugin;

/** A request as the server's `request` event carries it: only its socket matters here. */
const requestOn = (socket: object, name: string) => ({ socket, name }) as unknown as http.IncomingMessage;

describe('the offline-fair-accept plugin', () => {
  let restore: (() => void) | undefined;
  afterEach(() => {
    restore?.();
    restore = undefined;
  });

  it('while connections are being accepted, takes up one request per turn: first requests of new connections first, then the rest in arrival order', async () => {
    restore = FairAccept.deferRequests();
    const server = http.createServer();
    const taken: string[] = [];
    server.on('request', (request: { name: string }) => taken.push(request.name));
    const [old, fresh1, fresh2] = [new EventEmitter(), new EventEmitter(), new EventEmitter()];
    // `old` is already known: its first request came before.
    server.emit('request', requestOn(old, 'old-1'), {});
    await nextTurn();
    expect(taken).toEqual(['old-1']);
    taken.length = 0;

    // Read in one turn, as a burst's new connections are accepted: two more on the known
    // connection, then first requests of two new ones.
    server.emit('connection', fresh1);
    server.emit('request', requestOn(old, 'old-2'), {});
    server.emit('request', requestOn(old, 'old-3'), {});
    server.emit('request', requestOn(fresh1, 'fresh1-1'), {});
    server.emit('connection', fresh2);
    server.emit('request', requestOn(fresh2, 'fresh2-1'), {});
    server.emit('request', requestOn(fresh1, 'fresh1-2'), {});
    expect(taken).toEqual([]);
    const perTurn: number[] = [];
    for (let turn = 0; turn < 4; turn++) {
      const before = taken.length;
      await nextTurn();
      perTurn.push(taken.length - before);
    }
    // One per turn for the two turns after the last accepted connection, then the rest together.
    expect(perTurn).toEqual([1, 1, 3, 0]);
    expect(taken).toEqual(['fresh1-1', 'fresh2-1', 'old-2', 'old-3', 'fresh1-2']);
  });

  it('with no connection accepted for two turns, takes up to 16 requests in a turn', async () => {
    restore = FairAccept.deferRequests();
    const server = http.createServer();
    const taken: string[] = [];
    server.on('request', (request: { name: string }) => taken.push(request.name));
    const socket = new EventEmitter();
    for (let i = 0; i < 20; i++) server.emit('request', requestOn(socket, `r${i}`), {});
    await nextTurn();
    expect(taken).toHaveLength(16);
    await nextTurn();
    expect(taken).toEqual(Array.from({ length: 20 }, (_, i) => `r${i}`));
  });

  it('leaves every other event of the server as it was, and is removed with the function it returns', async () => {
    restore = FairAccept.deferRequests();
    const server = http.createServer();
    const seen: string[] = [];
    server.on('connection', () => seen.push('connection'));
    server.on('request', (request: { name: string }) => seen.push(request.name));
    server.emit('connection', new EventEmitter());
    expect(seen).toEqual(['connection']);
    restore();
    restore = undefined;
    server.emit('request', requestOn(new EventEmitter(), 'direct'), {});
    expect(seen).toEqual(['connection', 'direct']);
    await nextTurn();
    expect(seen).toEqual(['connection', 'direct']);
  });

  it('installs itself only for an in-process emulator, and not when OFFLINE_FAIR_ACCEPT=false', () => {
    const service = (useInProcess: boolean) => ({ service: { custom: { 'serverless-offline': { useInProcess } } } });
    expect(Object.keys(new FairAccept(service(true)).hooks)).toEqual(['before:offline:start:init', 'offline:start:end']);
    expect(new FairAccept(service(false)).hooks).toEqual({});
    process.env.OFFLINE_FAIR_ACCEPT = 'false';
    try {
      expect(new FairAccept(service(true)).hooks).toEqual({});
    } finally {
      delete process.env.OFFLINE_FAIR_ACCEPT;
    }
  });
});
