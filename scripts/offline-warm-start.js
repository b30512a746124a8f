'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- a Serverless plugin is CommonJS, and loading the bundles with require is the point */

/**
 * A local Serverless plugin for `serverless offline` in-process (the dev stage; nothing in a
 * cloud stage changes). Three things, each measured in docs/performance-tail.md:
 *  - once the emulator listens, it loads the bundles of the HTTP functions that
 *    `custom.offlineWarmStart.load` names (every HTTP function's when it is absent) into the
 *    process, as the emulator's loader would on that function's first request, with the same
 *    environment the emulator sets before it; the loader then finds the module in require's
 *    cache. Without it, the first request after a start paid for the ingest bundle's load
 *    (135-145 ms of blocked event loop) while a tenth of the first burst waited. Each bundle
 *    holds its own copy of its libraries: the twelve HTTP functions' bundles keep 99 MB of heap
 *    live, ingest's 11 MB, so serverless.yml leaves the rest to their first request;
 *  - it has the emulator's loader remember each handler it found (see `rememberHandlers`);
 *  - it sends the functions in `custom.offlineWarmStart.dryRuns` signed dry runs through the
 *    emulator's own HTTP server, holding every other request until they are done, so the code a
 *    burst runs is compiled before the first burst (see `warmUp`).
 * Plain JavaScript: the framework loads plugins with `require`.
 */
const { createHmac, randomUUID } = require('node:crypto');
const { existsSync } = require('node:fs');
const http = require('node:http');
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

/** How many dry runs are in flight at once while warming: as in a burst, several calls overlap. */
const WARM_UP_CONNECTIONS = 16;

/** A signed dry run of the gateway's ingest (`?dryRun=true`): its body and headers. */
function dryRunRequest(secret, i, token) {
  const body = JSON.stringify({
    eventId: `warm-up-${i}`,
    eventType: 'shipment.status_changed',
    occurredAt: new Date().toISOString(),
    source: 'warm-up',
    payload: { shipmentId: `WARM-UP-${i % 100}`, orderId: `WARM-UP-${i % 50}`, status: 'IN_TRANSIT', seq: i },
  });
  // The gateway's signature scheme (docs/producers.md): HMAC-SHA256 of `<timestamp>.<body>`.
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'x-signature-timestamp': timestamp,
      'x-signature': `sha256=${signature}`,
      'x-correlation-id': `warm-up-${i}`,
      [WARM_UP_HEADER]: token,
    },
  };
}

/** Marks the warm-up's own requests, which pass the gate below; its value is a secret of this process. */
const WARM_UP_HEADER = 'x-offline-warm-up';

/**
 * Holds every request that reaches this process's HTTP servers, except the warm-up's own, until
 * `open` is called; then they are taken up in the order they came. Nothing is refused or lost: a
 * request that arrives during the warm-up waits for it (about a second). Returns `open`.
 */
function holdRequestsUntilWarm(token) {
  const emit = http.Server.prototype.emit;
  const held = [];
  let open = false;
  // Stays in place once open, as a pass-through: a plugin installed after it (offline-fair-accept) calls it.
  http.Server.prototype.emit = function (name, ...args) {
    if (!open && name === 'request' && args[0].headers[WARM_UP_HEADER] !== token) {
      held.push([this, args]);
      return true;
    }
    return emit.call(this, name, ...args);
  };
  return () => {
    open = true;
    for (const [server, args] of held.splice(0)) emit.call(server, 'request', ...args);
  };
}

/**
 * Sends `count` signed dry runs to `url`, `WARM_UP_CONNECTIONS` at a time on kept-alive
 * connections, and stops at the first reply that is not 200 (Redis not up yet, a secret not set).
 * Resolves to how many were answered 200, and the first other reply, if any.
 */
async function warmUp(url, { secret, count, token }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: WARM_UP_CONNECTIONS });
  const post = (i) =>
    new Promise((done, fail) => {
      const { body, headers } = dryRunRequest(secret, i, token);
      const request = http.request(url, { method: 'POST', agent, headers }, (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => done({ statusCode: response.statusCode, body: text }));
      });
      request.on('error', fail);
      // Longer than a function may run (10 s): a warm-up that gets no answer ends instead of holding requests.
      request.setTimeout(15_000, () => request.destroy(new Error('no answer within 15 s')));
      request.end(body);
    });
  let answered = 0;
  try {
    for (let i = 0; i < count; i += WARM_UP_CONNECTIONS) {
      const replies = await Promise.all(Array.from({ length: Math.min(WARM_UP_CONNECTIONS, count - i) }, (_, j) => post(i + j)));
      const refused = replies.find((reply) => reply.statusCode !== 200);
      if (refused) return { answered, refused };
      answered += replies.length;
    }
    return { answered };
  } finally {
    agent.destroy();
  }
}

class OfflineWarmStart {
  constructor(serverless, options, { log }) {
    this.serverless = serverless;
    this.options = options;
    this.log = log;
    this.token = randomUUID();
    this.hooks = {
      'before:offline:start:init': () => {
        if (!serverless.service.custom?.['serverless-offline']?.useInProcess) return;
        if (!rememberHandlers(require)) {
          log.verbose('offline-warm-start: serverless-offline keeps its loader elsewhere; handlers are looked up on every call');
        }
        // Before the emulator creates its servers: their requests wait until the warm-up is done.
        if (Object.keys(this.dryRuns()).length > 0) this.open = holdRequestsUntilWarm(this.token);
      },
      'before:offline:start:ready': async () => {
        try {
          this.loadBundles();
          await this.warmUp();
        } finally {
          this.open?.();
        }
      },
    };
  }

  /** `custom.offlineWarmStart.dryRuns`: function key to how many dry runs warm it. */
  dryRuns() {
    return this.serverless.service.custom?.offlineWarmStart?.dryRuns ?? {};
  }

  /**
   * The functions named in `custom.offlineWarmStart.dryRuns` get that many signed dry runs through
   * the emulator's own HTTP server once it listens, before it takes any other request: the code
   * of the whole path (the emulator's HTTP layer, its Lambda event, the handler) is compiled
   * before the first burst arrives, not during it (docs/performance-tail.md). A dry run queues
   * and records nothing.
   */
  async warmUp() {
    const { service } = this.serverless;
    const offline = service.custom?.['serverless-offline'] ?? {};
    const port = this.options?.httpPort ?? offline.httpPort ?? 3000;
    for (const [key, count] of Object.entries(this.dryRuns())) {
      const secret = (process.env.WEBHOOK_SECRETS ?? '').split(',').find((value) => value !== '' && !value.startsWith('whsec_'));
      // `path`, or `routeKey` ("POST /v1/events") once the emulator has read the events.
      const paths = (service.functions?.[key]?.events ?? []).map((event) => event.httpApi?.path ?? event.httpApi?.routeKey?.split(' ')[1]);
      const path = paths.find((route) => route && !route.includes('{'));
      if (!secret || !path) {
        this.log.verbose(`offline-warm-start: ${key} not warmed (no plain route, or no WEBHOOK_SECRETS)`);
        continue;
      }
      const started = performance.now();
      try {
        const url = `http://127.0.0.1:${port}${path}?dryRun=true`;
        const { answered, refused } = await warmUp(url, { secret, count, token: this.token });
        const took = (performance.now() - started).toFixed(0);
        if (refused) {
          this.log.warning(
            `offline-warm-start: ${key} warmed with ${answered} dry runs, then answered ${refused.statusCode}: ${refused.body}`,
          );
        } else this.log.verbose(`offline-warm-start: ${key} warmed with ${answered} dry runs in ${took} ms`);
      } catch (error) {
        this.log.warning(`offline-warm-start: ${key} not warmed (${error instanceof Error ? error.message : error})`);
      }
    }
  }

  loadBundles() {
    const { service, config } = this.serverless;
    const offline = service.custom?.['serverless-offline'];
    if (!offline?.useInProcess) return;
    // Where the emulator looks for handlers: serverless-esbuild has set `location` to its build folder.
    const root = resolve(config.servicePath, offline.location ?? '');
    const started = performance.now();
    const loaded = [];
    const chosen = service.custom?.offlineWarmStart?.load;
    for (const [key, fn] of Object.entries(service.functions ?? {})) {
      const http = (fn.events ?? []).some((event) => event.httpApi || event.http);
      const file = join(root, `${fn.handler.slice(0, fn.handler.lastIndexOf('.'))}.js`);
      if (!http || (Array.isArray(chosen) && !chosen.includes(key))) continue;
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
module.exports.holdRequestsUntilWarm = holdRequestsUntilWarm;
module.exports.WARM_UP_HEADER = WARM_UP_HEADER;
