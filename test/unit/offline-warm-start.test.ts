import http from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

type Load = (appRoot: string, handler: string) => Promise<(...args: unknown[]) => unknown>;
const require = createRequire(import.meta.url);
// The plugin is plain JavaScript, loaded by the framework with require.
const OfflineWarmStart = require('../../scripts/offline-warm-start') as (new (
  serverless: unknown,
  options: unknown,
  utils: { log: Record<string, (message: string) => void> },
) => { loadBundles(): void }) & {
  rememberHandlers(require: NodeJS.Require): boolean;
  holdRequestsUntilWarm(token: string): () => void;
  WARM_UP_HEADER: string;
};
const { rememberHandlers, holdRequestsUntilWarm, WARM_UP_HEADER } = OfflineWarmStart;
const loaderFile = join(
  dirname(require.resolve('serverless-offline')),
  'lambda/handler-runner/in-process-runner/aws-lambda-ric/UserFunction.js',
);

describe("offline-warm-start: serverless-offline's handler lookup, remembered", () => {
  const root = mkdtempSync(join(tmpdir(), 'warm-start-'));
  const bundle = join(root, 'functions', 'probe.js');
  mkdirSync(dirname(bundle));
  const writeBundle = (reply: string) => writeFileSync(bundle, `exports.handler = async () => ${JSON.stringify(reply)};`);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('answers from memory while the bundle stays the same module, and looks again once require drops it', async () => {
    expect(rememberHandlers(require)).toBe(true);
    const loader = require(loaderFile) as { load: Load };
    writeBundle('first');
    const first = await loader.load(root, 'functions/probe.handler');
    expect(await first()).toBe('first');

    // The file gone: the emulator's own lookup would fail now; the remembered handler is the module's.
    rmSync(bundle);
    expect(await loader.load(root, 'functions/probe.handler')).toBe(first);

    // A new module in require's cache (a reload): looked up again, and the new handler is returned.
    delete require.cache[bundle];
    writeBundle('second');
    const second = await loader.load(root, 'functions/probe.handler');
    expect(second).not.toBe(first);
    expect(await second()).toBe('second');
    expect(await loader.load(root, 'functions/probe.handler')).toBe(second);
  });

  it('installs itself once, however many times the plugin is constructed', () => {
    const loader = require(loaderFile) as { load: Load };
    const installed = loader.load;
    expect(rememberHandlers(require)).toBe(true);
    expect(loader.load).toBe(installed);
  });
});

describe('offline-warm-start: requests wait for the warm-up', () => {
  const original = http.Server.prototype.emit;
  afterEach(() => {
    http.Server.prototype.emit = original;
  });
  const request = (name: string, headers: Record<string, string> = {}) => ({ name, headers }) as unknown as http.IncomingMessage;

  it("holds every request but the warm-up's own until it is done, then takes them up in the order they came", () => {
    const open = holdRequestsUntilWarm('token-1');
    const server = http.createServer();
    const taken: string[] = [];
    server.on('request', (r: { name: string }) => taken.push(r.name));
    server.emit('request', request('early-1'), {});
    server.emit('request', request('warm-up', { [WARM_UP_HEADER]: 'token-1' }), {});
    server.emit('request', request('guessed', { [WARM_UP_HEADER]: 'another' }), {});
    server.emit('request', request('early-2'), {});
    expect(taken).toEqual(['warm-up']);
    open();
    expect(taken).toEqual(['warm-up', 'early-1', 'guessed', 'early-2']);
    // Open, it passes everything straight on.
    server.emit('request', request('later'), {});
    expect(taken.at(-1)).toBe('later');
  });

  it('leaves other events of the server as they were', () => {
    holdRequestsUntilWarm('token-2');
    const server = http.createServer();
    const seen: string[] = [];
    server.on('listening', () => seen.push('listening'));
    server.emit('listening');
    expect(seen).toEqual(['listening']);
  });
});

describe('offline-warm-start: the bundles loaded at start', () => {
  const root = mkdtempSync(join(tmpdir(), 'warm-start-bundles-'));
  // loadBundles sets each function's Lambda variables in process.env, as the emulator does: put it back.
  const environment = { ...process.env };
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    for (const name of Object.keys(process.env)) if (!(name in environment)) delete process.env[name];
    Object.assign(process.env, environment);
  });
  const loadedBy = (folder: string) => (globalThis as Record<string, unknown>)[`loaded:${folder}`] as string[] | undefined;

  /** Three HTTP functions and one without events, each bundle recording its load; returns what `loadBundles` required. */
  function loadWith(folder: string, load: string[] | undefined): string[] {
    const dir = join(root, folder, 'functions');
    mkdirSync(dir, { recursive: true });
    const names = ['ingest', 'health', 'ops-stats', 'replay'];
    for (const name of names) {
      writeFileSync(
        join(dir, `${name}.js`),
        `(globalThis['loaded:${folder}'] ??= []).push('${name}'); exports.handler = async () => ({});\n`,
      );
    }
    const functions = Object.fromEntries(
      names.map((name) => [
        name,
        { handler: `functions/${name}.handler`, events: name === 'replay' ? [] : [{ httpApi: { path: `/${name}` } }] },
      ]),
    );
    const serverless = {
      config: { servicePath: join(root, folder) },
      service: {
        custom: { 'serverless-offline': { useInProcess: true }, offlineWarmStart: load ? { load } : {} },
        functions,
        provider: { region: 'eu-west-1', environment: {} },
      },
    };
    const log = { verbose: () => undefined, warning: (message: string) => expect.fail(message) };
    new OfflineWarmStart(serverless, {}, { log }).loadBundles();
    return loadedBy(folder) ?? [];
  }

  it('loads only the functions `load` names, leaving the rest to their first request', () => {
    expect(loadWith('chosen', ['ingest'])).toEqual(['ingest']);
  });

  it('loads every HTTP function when `load` is not given', () => {
    expect(loadWith('all', undefined)).toEqual(['ingest', 'health', 'ops-stats']);
  });
});
