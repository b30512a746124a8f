/**
 * One build configuration for everything that ships. serverless-esbuild builds the Lambda
 * bundles from `custom.esbuild` in serverless.yml; this script builds the long-running worker
 * with those same options, so the two can never drift apart.
 *
 *   npm run build        -> dist/worker.js (run with `npm run worker:bundle`)
 */
import { readFileSync } from 'node:fs';
import { build, type BuildOptions } from 'esbuild';
import { parse } from 'yaml';

interface ServerlessEsbuildOptions {
  bundle: boolean;
  minify: boolean;
  treeShaking?: boolean;
  mainFields?: string[];
  sourcesContent?: boolean;
  /** Resolved by Serverless per stage (a `${...}` expression here), so not shared: see workerBuild. */
  sourcemap: boolean | string;
  target: string;
  platform: 'node';
  format: 'cjs' | 'esm';
  exclude?: string[];
  keepOutputDirectory?: boolean;
}

export function sharedBuildOptions(serverlessYml = 'serverless.yml'): BuildOptions {
  const manifest = parse(readFileSync(serverlessYml, 'utf8')) as { custom: { esbuild: ServerlessEsbuildOptions } };
  const { bundle, minify, treeShaking, mainFields, sourcesContent, target, platform, format, exclude = [] } = manifest.custom.esbuild;
  return { bundle, minify, treeShaking, mainFields, sourcesContent, target, platform, format, external: exclude, logLevel: 'info' };
}

export const workerBuild: BuildOptions = {
  ...sharedBuildOptions(),
  // The image always carries dist/worker.js.map beside the bundle; Node reads it only when
  // NODE_OPTIONS=--enable-source-maps asks, so maps cost nothing until someone needs a trace.
  sourcemap: true,
  entryPoints: { worker: 'lib/worker/main.ts' },
  outdir: 'dist',
};

if (require.main === module) {
  build(workerBuild).catch((error: Error) => {
    // esbuild reports build errors itself, but not invalid options.
    console.error(error.message);
    process.exit(1);
  });
}
