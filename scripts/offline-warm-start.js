'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- a Serverless plugin is CommonJS, and loading the bundles with require is the point */

/**
 * A local Serverless plugin for `serverless offline` in-process (the dev stage; nothing in a
 * cloud stage changes): once the emulator listens, it loads each HTTP function's bundle into
 * the process, as the emulator's loader would on that function's first request, with the same
 * environment the emulator sets before it. The emulator's loader then finds the module in
 * require's cache. Without it, the first request after a start paid for the ingest bundle's
 * load (135-145 ms of blocked event loop) and every request that arrived meanwhile waited:
 * a tenth of the first burst of 1,000 requests on 100 connections (docs/performance-tail.md).
 * It also has the emulator's loader remember each handler it found (see `rememberHandlers`).
 * Plain JavaScript: the framework loads plugins with `require`.
 */
const { existsSync } = require('node:fs');
const { dirname, join, resolve } = require('node:path');
const { performance } = require('node:perf_hooks');

/** The variables serverless-offline's LambdaFunction sets for a function besides the configured ones. */
function lambdaVariables(name, key, handler, memorySize, region) {
  return {
    _HANDLER: handler,
    AWS_DEFAULT_REGION: region,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memorySize),
    AWS_LAMBDA_FUNCTION_NAME: name,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${name}`,
    AWS_REGION: region,
    LANG: 'en_US.UTF-8',
    IS_OFFLINE: 'true',
  };
}

/** Where serverless-offline's in-process loader lives (a CommonJS file inside the ES module package). */
const LOADER = 'lambda/handler-runner/in-process-runner/aws-lambda-ric/UserFunction.js';

/**
 * serverless-offline's in-process runner asks its loader for the handler on every call, and the
 * loader looks for the bundle's package.json again each time (a stat of every folder up to the
 * project's package.json, which it then reads and parses): about 12 % of the emulator's CPU per
 * request in a burst (docs/performance-tail.md). The loader returns the handler of the module in
 * require's cache, so its answer only changes when that module does: this remembers it per
 * handler while the same module object stays in the cache. Installed before the runner is first
 * imported, so the runner's import of `load` gets this one. Returns false when the loader is not
 * where this version of serverless-offline kept it.
 */
function rememberHandlers(require) {
  let file;
  try {
    file = join(dirname(require.resolve('serverless-offline')), LOADER);
  } catch {
    return false;
  }
  if (!existsSync(file)) return false;
  const loader = require(file);
  const load = loader.load;
  if (typeof load !== 'function' || load.remembers) return Boolean(load?.remembers);
  const known = new Map();
  const remembering = async (appRoot, fullHandlerString) => {
    const key = `${appRoot}\0${fullHandlerString}`;
    const entry = known.get(key);
    if (entry && require.cache[entry.file] === entry.module) return entry.handler;
    const handler = await load(appRoot, fullHandlerString);
    // `<folder>/<module>.<function>`: the module the loader required, if it is a CommonJS .js file.
    const moduleFile = `${resolve(appRoot, fullHandlerString.slice(0, fullHandlerString.lastIndexOf('.')))}.js`;
    const module = require.cache[moduleFile];
    if (module) known.set(key, { file: moduleFile, module, handler });
    return handler;
  };
  remembering.remembers = true;
  loader.load = remembering;
  return true;
}

class OfflineWarmStart {
  constructor(serverless, _options, { log }) {
    this.serverless = serverless;
    this.log = log;
    this.hooks = {
      'before:offline:start:init': () => {
        if (serverless.service.custom?.['serverless-offline']?.useInProcess && !rememberHandlers(require)) {
          log.verbose('offline-warm-start: serverless-offline keeps its loader elsewhere; handlers are looked up on every call');
        }
      },
      'before:offline:start:ready': () => this.loadBundles(),
    };
  }

  loadBundles() {
    const { service, config } = this.serverless;
    const offline = service.custom?.['serverless-offline'];
    if (!offline?.useInProcess) return;
    // Where the emulator looks for handlers: serverless-esbuild has set `location` to its build folder.
    const root = resolve(config.servicePath, offline.location ?? '');
    const started = performance.now();
    const loaded = [];
    for (const [key, fn] of Object.entries(service.functions ?? {})) {
      const http = (fn.events ?? []).some((event) => event.httpApi || event.http);
      const file = join(root, `${fn.handler.slice(0, fn.handler.lastIndexOf('.'))}.js`);
      if (!http) continue;
      if (!existsSync(file)) {
        this.log.verbose(`offline-warm-start: no bundle at ${file}`);
        continue;
      }
      const memorySize = fn.memorySize ?? service.provider.memorySize ?? 1024;
      Object.assign(
        process.env,
        lambdaVariables(fn.name ?? key, key, fn.handler, memorySize, service.provider.region),
        service.provider.environment,
        fn.environment,
      );
      try {
        require(file);
        loaded.push(key);
      } catch (error) {
        // The emulator will load it again on the first request and report the error there.
        this.log.warning(`offline-warm-start: ${key} did not load (${error instanceof Error ? error.message : error})`);
      }
    }
    this.log.verbose(`offline-warm-start: loaded ${loaded.join(', ')} in ${(performance.now() - started).toFixed(0)} ms`);
  }
}

module.exports = OfflineWarmStart;
module.exports.rememberHandlers = rememberHandlers;
