/**
 * What `npm run bench:tail -- --profile` records inside the emulator: loaded into every Node
 * process of `npm run offline` with NODE_OPTIONS=--require (the benchmark compiles this file
 * with esbuild first), active only in the `serverless offline start` process itself.
 *
 * With TAIL_CPU_PROFILE set (`--cpu-profile`), also a sampled CPU profile of the main thread,
 * written to that file on SIGUSR2.
 *
 * One JSON line per record, appended to TAIL_PROBE_FILE every 100 ms:
 *  - `loop`: the event loop's delay over the last 100 ms (perf_hooks monitorEventLoopDelay);
 *  - `gc`: each garbage collection pause (PerformanceObserver 'gc');
 *  - `load`: each module loaded through require() (not a cache hit), top level only, with its time;
 *  - `req`: each HTTP request, by its x-correlation-id: when the server parsed it, when the
 *    emulator took it up (later where scripts/offline-fair-accept.js deferred it), when the handler
 *    was entered, when its synchronous part returned, when its promise settled, when the reply
 *    was written, and how many handler calls were in flight at its entry.
 *
 * The emulator keeps one function instance per concurrent call and creates one whenever none is
 * idle (serverless-offline's LambdaFunctionPool), so the peak of handler calls in flight is the
 * number of instances it has created.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import http from 'node:http';
import Module from 'node:module';
import { getHeapStatistics } from 'node:v8';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';

const file = process.env.TAIL_PROBE_FILE;
/** Epoch milliseconds with sub-millisecond precision, comparable across processes. */
const now = () => performance.timeOrigin + performance.now();

type Handler = (event: { headers?: Record<string, string | undefined> }, context: unknown, callback?: unknown) => unknown;

interface ModuleInternals {
  _load(request: string, parent: unknown, isMain: boolean): unknown;
  _resolveFilename(request: string, parent: unknown, isMain: boolean): string;
  _cache: Record<string, { exports: unknown } | undefined>;
}

if (file && process.argv[2] === 'offline') {
  let lines: string[] = [];
  const record = (entry: Record<string, unknown>) => lines.push(JSON.stringify(entry));
  const flush = () => {
    if (lines.length === 0) return;
    appendFileSync(file, lines.join('\n') + '\n');
    lines = [];
  };

  const cpuProfile = process.env.TAIL_CPU_PROFILE;
  if (cpuProfile) {
    // A sampled CPU profile of the emulator's main thread, written when the benchmark sends SIGUSR2.
    const session = new Session();
    session.connect();
    session.post('Profiler.enable');
    session.post('Profiler.setSamplingInterval', { interval: 500 });
    session.post('Profiler.start');
    // The profile's clock is the monotonic one (microseconds): this pairs it with the epoch.
    record({ t: 'cpuprofile', at: now(), monotonicUs: Number(process.hrtime.bigint() / 1000n) });
    process.on('SIGUSR2', () => {
      session.post('Profiler.stop', (error, result) => {
        if (!error) writeFileSync(cpuProfile, JSON.stringify(result.profile));
      });
    });
  }

  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  setInterval(() => {
    const heap = getHeapStatistics();
    record({
      t: 'loop',
      at: now(),
      maxMs: delay.max / 1e6,
      meanMs: delay.mean / 1e6,
      p99Ms: delay.percentile(99) / 1e6,
      heapUsedMb: heap.used_heap_size / 2 ** 20,
      heapTotalMb: heap.total_heap_size / 2 ** 20,
    });
    delay.reset();
    flush();
  }, 100).unref();
  process.once('exit', flush);

  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
      record({ t: 'gc', at: performance.timeOrigin + entry.startTime, ms: entry.duration, kind });
    }
  }).observe({ entryTypes: ['gc'] });

  // Handler calls, wrapped where the emulator's loader gets them: the bundle's cached exports.
  let inFlight = 0;
  const calls = new Map<string, { enter: number; returned: number; settled?: number; inFlight: number }>();
  const wrap =
    (handler: Handler): Handler =>
    (event, context, callback) => {
      const id = event.headers?.['x-correlation-id'];
      const call = { enter: now(), returned: 0, settled: undefined as number | undefined, inFlight: ++inFlight };
      const done = () => {
        inFlight--;
        call.settled = now();
      };
      const result = handler(event, context, callback);
      call.returned = now();
      if (id) calls.set(id, call);
      if (result && typeof (result as Promise<unknown>).then === 'function') (result as Promise<unknown>).then(done, done);
      else done();
      return result;
    };

  const internals = Module as unknown as ModuleInternals;
  const load = internals._load.bind(Module);
  let depth = 0;
  internals._load = (request, parent, isMain) => {
    let filename: string | undefined;
    try {
      filename = internals._resolveFilename(request, parent, isMain);
    } catch {
      /* a built-in or a failing request: loaded below as usual */
    }
    const fresh = filename !== undefined && filename.startsWith('/') && internals._cache[filename] === undefined;
    const started = now();
    depth++;
    let exports: unknown;
    try {
      exports = load(request, parent, isMain);
    } finally {
      depth--;
    }
    if (!fresh || !filename) return exports;
    if (depth === 0) record({ t: 'load', at: started, ms: now() - started, file: filename });
    // A Lambda bundle: hand the emulator a copy of its exports whose handler is timed.
    const handler = (exports as { handler?: unknown } | undefined)?.handler;
    if (/\/functions\/[^/]+\.js$/.test(filename) && typeof handler === 'function') {
      const timed = { ...(exports as object), handler: wrap(handler as Handler) };
      internals._cache[filename]!.exports = timed;
      return timed;
    }
    return exports;
  };

  // Called below with the server as `this`, as EventEmitter's emit expects.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const emit = http.Server.prototype.emit;
  type Emit = typeof emit;
  /** When the server's parser produced each request, before anything deferred its `request` event. */
  const parsedAt = new WeakMap<object, number>();
  const probeEmit = function (this: http.Server, name: string, ...args: unknown[]) {
    if (name === 'connection') {
      const [socket] = args as [import('node:net').Socket];
      record({ t: 'conn', at: now(), port: socket.remotePort });
    }
    if (name === 'request') {
      const [request, response] = args as [http.IncomingMessage, http.ServerResponse];
      const arrived = now();
      const parsed = parsedAt.get(request) ?? arrived;
      const id = request.headers['x-correlation-id'];
      if (typeof id === 'string') {
        const port = request.socket.remotePort;
        response.once('finish', () => {
          const call = calls.get(id);
          calls.delete(id);
          record({ t: 'req', id, parsed, arrived, port, ...call, finished: now(), status: response.statusCode });
        });
      }
    }
    return emit.apply(this, [name, ...args] as Parameters<Emit>);
  } as Emit;
  // A plugin that wraps emit later (scripts/offline-fair-accept.js defers `request` events) gets
  // this probe's emit as the one it calls on, and its own wrapper is wrapped once more here to see
  // each request when it was parsed: `arrived` is when the emulator took a request up, `parsed`
  // when the server had it.
  const firstSight = (inner: Emit): Emit =>
    function (this: http.Server, name: string, ...args: unknown[]) {
      if (name === 'request' && !parsedAt.has(args[0] as object)) parsedAt.set(args[0] as object, now());
      return inner.apply(this, [name, ...args] as Parameters<Emit>);
    } as Emit;
  let current: Emit = probeEmit;
  Object.defineProperty(http.Server.prototype, 'emit', {
    configurable: true,
    get: () => current,
    set: (next: Emit) => {
      current = next === probeEmit ? probeEmit : firstSight(next);
    },
  });
}
