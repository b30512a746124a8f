/**
 * What each Lambda costs before it handles a request: the size of its zip and its cold-start
 * init time (the time Node takes to load and evaluate the handler's bundle, which is what
 * Lambda bills as Init Duration beyond the runtime's own start).
 *
 *   npm run bench:lambda            BENCH_COLD_STARTS=15 (default) fresh processes per bundle
 *
 * It packages a cloud stage (`serverless package --stage bench`, minified, no source maps), and
 * as the baseline, measured in the same run, builds the same handlers the way they were built
 * before (unminified, source maps, loaded with --enable-source-maps). Each init is a fresh
 * `node` process that requires the bundle with the function's own environment and prints how
 * long the require took; the figures are the median and the slowest of the runs.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import { sharedBuildOptions } from '../../esbuild.config';
import { paramArgs, REQUIRED_CLOUD_PARAMS } from '../../test/support/stage-params';

const ROOT = resolve(__dirname, '..', '..');
const RUNS = Number(process.env.BENCH_COLD_STARTS ?? 15);

interface Measured {
  zipBytes: number;
  bundleBytes: number;
  initMs: number[];
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const max = (values: number[]) => Math.max(...values);
const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;

/** One cold start: a fresh Node process requires the bundle and reports the time it took. */
function coldStart(bundle: string, env: Record<string, string>, nodeOptions: string): number {
  const probe = `const t=process.hrtime.bigint();require(${JSON.stringify(bundle)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`;
  const result = spawnSync(process.execPath, ['-e', probe], {
    // The runtime provides @aws-sdk/*; here the project's copies stand in for it.
    env: { PATH: process.env.PATH ?? '', NODE_PATH: join(ROOT, 'node_modules'), ...env, NODE_OPTIONS: nodeOptions },
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`cold start of ${bundle} failed: ${result.stderr}`);
  return Number(result.stdout);
}

function packageCloudStage(out: string) {
  const result = spawnSync('npx', ['serverless', 'package', '--stage', 'bench', '--package', out, ...paramArgs(REQUIRED_CLOUD_PARAMS)], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`serverless package failed:\n${result.stdout}\n${result.stderr}`);
  const template = JSON.parse(readFileSync(join(out, 'cloudformation-template-update-stack.json'), 'utf8')) as {
    Resources: Record<
      string,
      { Type: string; Properties: { FunctionName: string; Handler: string; Environment: { Variables: Record<string, string> } } }
    >;
  };
  return Object.values(template.Resources)
    .filter((r) => r.Type === 'AWS::Lambda::Function')
    .map((r) => ({
      name: r.Properties.FunctionName.replace(/^courier-event-gateway-bench-/, ''),
      handler: r.Properties.Handler,
      env: r.Properties.Environment.Variables,
    }));
}

function main() {
  const work = mkdtempSync(join(tmpdir(), 'gateway-lambda-cost-'));
  try {
    const out = join(work, 'package');
    const functions = packageCloudStage(out);
    const baselineDir = join(work, 'baseline');
    mkdirSync(baselineDir);
    const rows: Array<{ name: string; now: Measured; before: Measured }> = [];
    for (const fn of functions) {
      const source = `${fn.handler.replace(/\.handler$/, '')}.ts`;
      // Today's package, as deployed.
      const unzipped = join(work, fn.name);
      spawnSync('unzip', ['-q', '-o', join(out, `${fn.name}.zip`), '-d', unzipped]);
      const bundle = join(unzipped, `${fn.handler.replace(/\.handler$/, '')}.js`);
      // The baseline: the earlier build settings (no minify, source maps on and loaded).
      const baseline = join(baselineDir, `${fn.name}.js`);
      buildSync({
        ...sharedBuildOptions(),
        minify: false,
        sourcemap: true,
        sourcesContent: true,
        mainFields: undefined,
        treeShaking: undefined,
        logLevel: 'silent',
        entryPoints: [join(ROOT, source)],
        outfile: baseline,
      });
      const baselineZip = join(baselineDir, `${fn.name}.zip`);
      spawnSync('zip', ['-q', '-j', baselineZip, baseline, `${baseline}.map`]);
      const now: Measured = { zipBytes: statSync(join(out, `${fn.name}.zip`)).size, bundleBytes: statSync(bundle).size, initMs: [] };
      const before: Measured = { zipBytes: statSync(baselineZip).size, bundleBytes: statSync(baseline).size, initMs: [] };
      // Alternate the two, so drift on a shared machine hits both alike.
      for (let i = 0; i < RUNS; i++) {
        now.initMs.push(coldStart(bundle, fn.env, fn.env.NODE_OPTIONS ?? ''));
        before.initMs.push(coldStart(baseline, fn.env, '--enable-source-maps'));
      }
      rows.push({ name: fn.name, now, before });
    }
    console.log(`Lambda bundles: ${RUNS} cold starts each, Node ${process.version}, ${functions.length} functions`);
    console.log('| function | zip | bundle | init p50 | init max | baseline zip | baseline init p50 | zip ratio | init ratio |');
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const { name, now, before } of rows) {
      console.log(
        `| ${name} | ${kib(now.zipBytes)} | ${kib(now.bundleBytes)} | ${median(now.initMs).toFixed(1)} ms | ${max(now.initMs).toFixed(1)} ms | ` +
          `${kib(before.zipBytes)} | ${median(before.initMs).toFixed(1)} ms | ${(now.zipBytes / before.zipBytes).toFixed(2)} | ${(median(now.initMs) / median(before.initMs)).toFixed(2)} |`,
      );
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main();
