/**
 * `npm run bench:open-loop`: how the load test's open-loop latencies are measured, checked
 * against a server whose answer takes a known time.
 *
 * A local HTTP server answers every request after a fixed BENCH_DELAY_MS (20). At each rate it
 * is loaded for BENCH_SECONDS (6) three ways: autocannon with `overallRate` (its default
 * coordinated-omission correction), the same with `ignoreCoordinatedOmission`, and the load
 * test's own open loop (scripts/load-test/open-loop.ts). A correct measurement reports about the
 * fixed delay at every percentile. Also printed: latency samples recorded per request (more
 * than one means synthesised samples) and the share of requests that reached the server in the
 * first 100 ms of each second (0.10 for an even spread; near 1 for a burst per second).
 * Figures, not assertions.
 */
import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism, totalmem } from 'node:os';
import autocannon from 'autocannon';
import { quantile, runOpenLoop } from '../load-test/open-loop';

const DELAY_MS = Number(process.env.BENCH_DELAY_MS ?? 20);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const LOADS: Array<[rate: number, connections: number]> = [
  [50, 10],
  [300, 100],
];

interface Row {
  how: string;
  requests: number;
  samples: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  firstTenth: number;
}

async function main(): Promise<void> {
  let arrivals: number[] = [];
  const server = createServer((request, response) => {
    arrivals.push(performance.now());
    request.resume();
    setTimeout(() => response.end('ok'), DELAY_MS);
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

  /** Runs one load and returns its row, with where in each second the requests arrived. */
  const measure = async (how: string, load: () => Promise<Omit<Row, 'how' | 'firstTenth'>>): Promise<Row> => {
    arrivals = [];
    const started = performance.now();
    const figures = await load();
    const firstTenth = arrivals.filter((at) => (at - started) % 1000 < 100).length / Math.max(1, arrivals.length);
    return { how, ...figures, firstTenth };
  };
  const viaAutocannon = (rate: number, connections: number, ignoreCoordinatedOmission: boolean) => async () => {
    const result = await autocannon({ url, connections, overallRate: rate, duration: SECONDS, ignoreCoordinatedOmission });
    // The histogram's sample count is not in autocannon's type, but it is in its result.
    const l = result.latency as autocannon.Histogram & { totalCount: number };
    return { requests: result.requests.total, samples: l.totalCount, p50: l.p50, p90: l.p90, p99: l.p99, max: l.max };
  };
  const viaOpenLoop = (rate: number, connections: number) => async () => {
    const run = await runOpenLoop({
      url,
      rate,
      total: rate * SECONDS,
      connections,
      next: () => ({ body: '{}', headers: { 'content-type': 'application/json' } }),
    });
    const l = run.latenciesMs;
    return {
      requests: l.length,
      samples: l.length,
      p50: quantile(l, 0.5),
      p90: quantile(l, 0.9),
      p99: quantile(l, 0.99),
      max: l.at(-1) ?? Number.NaN,
    };
  };

  try {
    console.log(
      `machine: ${availableParallelism()} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}; autocannon ${autocannonVersion()}`,
    );
    console.log(`server: answers after a fixed ${DELAY_MS} ms; ${SECONDS} s per load\n`);
    console.log(
      '| rate/s | connections | measured by | requests | samples per request | p50 ms | p90 ms | p99 ms | max ms | arrived in the first 100 ms of a second |',
    );
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const [rate, connections] of LOADS) {
      const rows = [
        await measure('autocannon overallRate (its correction on)', viaAutocannon(rate, connections, false)),
        await measure('autocannon overallRate, ignoreCoordinatedOmission', viaAutocannon(rate, connections, true)),
        await measure('load test open loop', viaOpenLoop(rate, connections)),
      ];
      for (const r of rows) {
        const ms = (v: number) => v.toFixed(1);
        console.log(
          `| ${rate} | ${connections} | ${r.how} | ${r.requests} | ${(r.samples / r.requests).toFixed(1)} | ${ms(r.p50)} | ${ms(r.p90)} | ${ms(r.p99)} | ${ms(r.max)} | ${(r.firstTenth * 100).toFixed(0)} % |`,
        );
      }
    }
  } finally {
    server.close();
  }
}

function autocannonVersion(): string {
  return (createRequire(import.meta.url)('autocannon/package.json') as { version: string }).version;
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
