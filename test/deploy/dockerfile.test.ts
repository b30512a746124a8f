import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { execForm, parseDockerfile, productionStageProblems } from '../support/dockerfile';
import { PROJECT_ROOT } from '../support/processes';

/**
 * The Dockerfile's promises, checked by reading it (no Docker engine runs here). What the image
 * runs is itself tested: test/e2e/worker-bundle.test.ts runs the same command on the bundle in
 * a directory with no node_modules.
 */
describe('the Dockerfile', () => {
  const text = readFileSync(resolve(PROJECT_ROOT, 'Dockerfile'), 'utf8');
  const stages = parseDockerfile(text);
  const scripts = (JSON.parse(readFileSync(resolve(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const bundleCommand = (scripts['worker:bundle'] ?? '').split(' ');
  const stage = (name: string) => stages.find((s) => s.name === name);
  const runs = (name: string) =>
    stage(name)
      ?.instructions.filter((i) => i.keyword === 'RUN')
      .map((i) => i.args) ?? [];

  it('has the deps, dev, build and worker stages, the worker last so it is the default target', () => {
    expect(stages.map((s) => s.name)).toEqual(['deps', 'dev', 'build', 'worker']);
  });

  it('installs every dependency once (deps), runs the emulator in dev and builds the bundle in build', () => {
    expect(runs('deps').some((args) => /\bnpm ci\b/.test(args) && !/--omit=dev|--production/.test(args))).toBe(true);
    expect(stage('dev')?.base).toBe('deps');
    expect(execForm(stage('dev')?.instructions.findLast((i) => i.keyword === 'CMD')?.args ?? '')).toEqual(['npm', 'run', 'offline']);
    expect(stage('build')?.base).toBe('deps');
    expect(runs('build')).toContain('npm run build');
  });

  it('ships only the bundle: node dist/worker.js under tini, as a non-root user, NODE_ENV=production, with a health check', () => {
    expect(productionStageProblems(stages, bundleCommand)).toEqual([]);
  });

  it('keeps source maps beside the bundle but off unless asked for', () => {
    const copies = stage('worker')
      ?.instructions.filter((i) => i.keyword === 'COPY')
      .map((i) => i.args)
      .join(' ');
    expect(copies).toContain('/app/dist/worker.js.map');
    expect(text).not.toMatch(/^ENV\s.*enable-source-maps/m);
  });

  it("trusts Amazon's RDS CA bundle on top of Node's roots, so a DocumentDB MONGO_URL needs no tlsCAFile", () => {
    const worker = stage('worker')!.instructions;
    const add = worker.find((i) => i.keyword === 'ADD' && i.args.includes('truststore.pki.rds.amazonaws.com'));
    const path = add?.args.split(/\s+/).at(-1);
    expect(path).toBe('/etc/ssl/certs/rds-global-bundle.pem');
    expect(worker.filter((i) => i.keyword === 'ENV').map((i) => i.args)).toContain(`NODE_EXTRA_CA_CERTS=${path}`);
  });

  // The checker must be able to say no: each broken promise, made on a copy of the real file.
  const broken: Array<[string, (dockerfile: string) => string, RegExp]> = [
    ['runs as root', (d) => d.replace(/^USER 1000:1000$/m, 'USER root'), /runs as root/],
    ['has no USER', (d) => d.replace(/^USER 1000:1000\n/m, ''), /runs as root/],
    ['has no init', (d) => d.replace(/^ENTRYPOINT .*\n/m, ''), /not an init/],
    [
      'runs the worker with tsx',
      (d) => d.replace('CMD ["node", "dist/worker.js"]', 'CMD ["npx", "tsx", "lib/worker/main.ts"]'),
      /not "node dist\/worker.js"/,
    ],
    ['uses a shell-form CMD', (d) => d.replace('CMD ["node", "dist/worker.js"]', 'CMD node dist/worker.js'), /shell form/],
    [
      'copies the dev node_modules',
      (d) => d.replace(/^USER 1000:1000$/m, 'COPY --from=deps /app/node_modules ./node_modules\nUSER 1000:1000'),
      /node_modules/,
    ],
    ['copies the sources', (d) => d.replace(/^USER 1000:1000$/m, 'COPY . .\nUSER 1000:1000'), /build context/],
    ['installs packages', (d) => d.replace(/^USER 1000:1000$/m, 'RUN npm ci --omit=dev\nUSER 1000:1000'), /package manager/],
    ['has no health check', (d) => d.replace(/^HEALTHCHECK [^\n]*\\\n[^\n]*\n/m, ''), /no HEALTHCHECK/],
    ['is not production', (d) => d.replace('ENV NODE_ENV=production', 'ENV NODE_ENV=development'), /NODE_ENV/],
    ['ends on the dev stage', (d) => `${d}\nFROM deps AS dev2\nCMD ["npm", "run", "offline"]\n`, /not "worker"/],
  ];
  it.each(broken)('would be caught if the production stage %s', (_, mutate, problem) => {
    const mutated = mutate(text);
    expect(mutated, 'the mutation no longer applies to the Dockerfile').not.toBe(text);
    expect(productionStageProblems(parseDockerfile(mutated), bundleCommand).join('\n')).toMatch(problem);
  });
});
