import { EventEmitter } from 'node:events';
import http from 'node:http';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
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

  it('takes up nothing in a turn right after a connection was accepted, then first requests of new connections first, then the rest in arrival order', async () => {
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
    for (let turn = 0; turn < 3; turn++) {
      const before = taken.length;
      await nextTurn();
      perTurn.push(taken.length - before);
    }
    // A turn with nothing taken up (libuv may have more connections to accept), then all of them.
    expect(perTurn).toEqual([0, 5, 0]);
    expect(taken).toEqual(['fresh1-1', 'fresh2-1', 'old-2', 'old-3', 'fresh1-2']);
  });

  it('with a connection accepted in every turn, holds requests for 30 ms at most, then takes up one per turn until they stop', async () => {
    restore = FairAccept.deferRequests();
    const server = http.createServer();
    const taken: Array<{ name: string; at: number }> = [];
    server.on('request', (request: { name: string }) => taken.push({ name: request.name, at: performance.now() }));
    const socket = new EventEmitter();
    const started = performance.now();
    for (let i = 0; i < 40; i++) server.emit('request', requestOn(socket, `r${i}`), {});
    const perTurn: number[] = [];
    while (performance.now() - started < 60) {
      server.emit('connection', new EventEmitter());
      const before = taken.length;
      await nextTurn();
      perTurn.push(taken.length - before);
    }
    const firstTaken = taken[0]!.at - started;
    expect(firstTaken).toBeGreaterThanOrEqual(30);
    expect(firstTaken).toBeLessThan(60);
    // After the hold, never more than one per turn while connections keep coming.
    expect(Math.max(...perTurn)).toBe(1);
    expect(perTurn.indexOf(1)).toBeGreaterThan(0);
    // They stop: the rest go 16 per turn, in arrival order.
    const before = taken.length;
    await nextTurn();
    await nextTurn();
    expect(taken.length - before).toBe(Math.min(40 - before, 16) + Math.min(Math.max(0, 40 - before - 16), 16));
    expect(taken.map((t) => t.name)).toEqual(Array.from({ length: taken.length }, (_, i) => `r${i}`));
  });

  it('with no connection accepted in the turn before, takes up to 16 requests in a turn', async () => {
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
