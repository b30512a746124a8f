/**
 * Just enough of a Dockerfile reader to check what an image promises without a Docker engine:
 * stages, and each stage's instructions with comments dropped and continuation lines joined.
 */
export interface Instruction {
  keyword: string;
  args: string;
}

export interface Stage {
  base: string;
  name?: string;
  /** `--platform=...` and other flags of the FROM line. */
  fromFlags: string[];
  instructions: Instruction[];
}

export function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    // A comment line is dropped, even inside a continued instruction (as Docker does).
    if (line.startsWith('#') || (line === '' && pending === '')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push((pending + line).trim());
    pending = '';
  }
  if (pending.trim()) logical.push(pending.trim());

  const stages: Stage[] = [];
  for (const line of logical) {
    const [keyword = '', ...rest] = line.split(/\s+/);
    const args = line.slice(keyword.length).trim();
    if (keyword.toUpperCase() === 'FROM') {
      const flags = rest.filter((word) => word.startsWith('--'));
      const words = rest.filter((word) => !word.startsWith('--'));
      const as = words.findIndex((word) => word.toUpperCase() === 'AS');
      stages.push({
        base: words[0] ?? '',
        ...(as > 0 && words[as + 1] ? { name: words[as + 1] } : {}),
        fromFlags: flags,
        instructions: [],
      });
      continue;
    }
    stages.at(-1)?.instructions.push({ keyword: keyword.toUpperCase(), args });
  }
  return stages;
}

/** The argv of an exec-form (JSON array) CMD, ENTRYPOINT or HEALTHCHECK CMD; undefined for shell form. */
export function execForm(args: string): string[] | undefined {
  const json = args.replace(/^(--\S+\s+)*(CMD\s+)?/i, '');
  if (!json.startsWith('[')) return undefined;
  const value = JSON.parse(json) as unknown;
  return Array.isArray(value) && value.every((item) => typeof item === 'string') ? value : undefined;
}

const INITS = [/(^|\/)tini$/, /(^|\/)dumb-init$/];

/**
 * What the production (final, default) stage must hold to, as a list of broken promises; an
 * empty list means it keeps them all. `bundleCommand` is the command that runs the bundle
 * (`npm run worker:bundle`'s), which the stage must run, under an init, as its last words.
 */
export function productionStageProblems(stages: Stage[], bundleCommand: string[]): string[] {
  const problems: string[] = [];
  const stage = stages.at(-1);
  if (!stage) return ['no FROM: not a Dockerfile'];
  if (stage.name !== 'worker') problems.push(`the last (default) stage is "${stage.name ?? 'unnamed'}", not "worker"`);
  if (stage.base !== 'node:22-bookworm-slim') problems.push(`the final stage is based on ${stage.base}, not node:22-bookworm-slim`);
  const last = (keyword: string) => stage.instructions.filter((i) => i.keyword === keyword).at(-1);

  const entrypoint = last('ENTRYPOINT');
  const cmd = last('CMD');
  const entryArgv = entrypoint ? execForm(entrypoint.args) : [];
  const cmdArgv = cmd ? execForm(cmd.args) : [];
  if (!entryArgv || !cmdArgv) problems.push('ENTRYPOINT/CMD in shell form: /bin/sh would be PID 1 and swallow SIGTERM');
  const argv = [...(entryArgv ?? []), ...(cmdArgv ?? [])];
  const init = argv[0] ?? '';
  if (!INITS.some((pattern) => pattern.test(init)))
    problems.push(`PID 1 is "${init || 'nothing'}", not an init that passes SIGTERM on (tini)`);
  else if (!stage.instructions.some((i) => i.keyword === 'RUN' && new RegExp(`install\\b.*\\b${init.split('/').pop()}\\b`).test(i.args))) {
    problems.push(`the init ${init} is not installed in the final stage`);
  }
  if (JSON.stringify(argv.slice(-bundleCommand.length)) !== JSON.stringify(bundleCommand)) {
    problems.push(`runs "${argv.join(' ')}", not "${bundleCommand.join(' ')}"`);
  }
  if (argv.some((word) => /(^|\/)(tsx|npm|npx)$/.test(word))) problems.push('runs through npm, npx or tsx, which the image must not need');

  const user = last('USER')?.args.split(':')[0];
  if (!user || user === 'root' || user === '0') problems.push(`runs as ${user ?? 'root (no USER)'}`);

  const env = stage.instructions
    .filter((i) => i.keyword === 'ENV')
    .map((i) => i.args)
    .join(' ');
  if (!/\bNODE_ENV=production\b/.test(env)) problems.push('NODE_ENV is not production');

  const healthcheck = last('HEALTHCHECK');
  const probe = healthcheck && !/^NONE\b/i.test(healthcheck.args) ? execForm(healthcheck.args) : undefined;
  if (!probe) problems.push('no HEALTHCHECK in exec form');
  else if (!probe.join(' ').includes('/health')) problems.push('the HEALTHCHECK does not ask GET /health');

  for (const copy of stage.instructions.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')) {
    const words = copy.args.split(/\s+/);
    const from = words.find((word) => word.startsWith('--from='))?.slice('--from='.length);
    const sources = words.filter((word) => !word.startsWith('--')).slice(0, -1);
    // A file fetched over HTTPS at build time (a CA bundle) is not from the build context.
    if (copy.keyword === 'ADD' && sources.length > 0 && sources.every((source) => source.startsWith('https://'))) continue;
    if (!from) problems.push(`copies from the build context (${copy.args}): sources and dev files would ship`);
    else if (sources.some((source) => !/^\/app\/dist\/[^/]+$/.test(source))) problems.push(`copies more than the bundle: ${copy.args}`);
    if (/node_modules/.test(copy.args)) problems.push(`copies node_modules: ${copy.args}`);
  }
  for (const run of stage.instructions.filter((i) => i.keyword === 'RUN')) {
    if (/\b(npm|yarn|pnpm)\s+(ci|install|i|add)\b/.test(run.args)) problems.push(`installs packages with a package manager: ${run.args}`);
  }
  return problems;
}
