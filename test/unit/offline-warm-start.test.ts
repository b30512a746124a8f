import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

type Load = (appRoot: string, handler: string) => Promise<(...args: unknown[]) => unknown>;
const require = createRequire(import.meta.url);
// The plugin is plain JavaScript, loaded by the framework with require.
const { rememberHandlers } = require('../../scripts/offline-warm-start') as { rememberHandlers(require: NodeJS.Require): boolean };
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
