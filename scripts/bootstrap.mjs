/**
 * What a fresh clone lacks, installed before `npm start` or `npm test` runs: Debian's packages
 * (as root, through apt-get), node_modules (`npm ci`), the Go tools (`npm run build:tools`) and,
 * for the tests, the deploy tools' venv (`npm run setup:deploy-tools`). What it cannot install it
 * names in one message, with the command that installs it.
 *
 * Node's built-ins only: it runs before `npm ci`. Checks are file stats and PATH look-ups, so a
 * machine that has everything pays a few milliseconds.
 *
 *   node scripts/bootstrap.mjs test    # npm's pretest
 *   node scripts/bootstrap.mjs start   # what scripts/start.mjs runs first
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import process from 'node:process';

export const PROJECT_ROOT = resolve(import.meta.dirname, '..');

/** The Debian package that provides each command the services and tests run. */
export const DEBIAN_PACKAGES = { 'redis-server': 'redis-server', 'redis-cli': 'redis-tools', chromium: 'chromium' };

/** The Go tools (tools/<name>/bin/<name>) `npm run build:tools` builds. */
export const GO_TOOLS = ['ferretdb', 'compose-check', 'toxiproxy'];

/**
 * What each purpose needs. `npm start` needs Redis and FerretDB only when it runs them itself
 * (no REDIS_URL / MONGO_URL); the tests always start their own, and a local Redis Cluster.
 *
 * @param {'start' | 'test'} purpose
 * @param {{ redisUrlSet: boolean, mongoUrlSet: boolean, chromiumPathSet: boolean }} settings
 */
export function needsFor(purpose, settings) {
  if (purpose === 'start') {
    return {
      commands: settings.redisUrlSet ? [] : ['redis-server'],
      goTools: settings.mongoUrlSet ? [] : ['ferretdb'],
      deployTools: false,
    };
  }
  return {
    commands: ['redis-server', 'redis-cli', ...(settings.chromiumPathSet ? [] : ['chromium'])],
    goTools: GO_TOOLS,
    deployTools: true,
  };
}

/**
 * The steps that make this machine ready, or the one message saying what to install by hand.
 * Pure: every fact about the machine comes in `machine`, so each path is testable anywhere.
 *
 * @param {'start' | 'test'} purpose
 * @param {import('./bootstrap.d.mts').MachineFacts} machine
 * @returns {import('./bootstrap.d.mts').BootstrapPlan}
 */
export function planBootstrap(purpose, machine) {
  const needs = needsFor(purpose, machine);
  const steps = [];
  const missing = [];
  const command = `npm ${purpose === 'start' ? 'start' : 'test'}`;

  const packages = [...new Set(needs.commands.filter((name) => !machine.commands[name]).map((name) => DEBIAN_PACKAGES[name]))];
  if (packages.length > 0) {
    if (machine.isRoot && machine.hasAptGet) {
      steps.push({
        title: `Debian packages ${packages.join(', ')} (apt-get)`,
        commands: [
          ['apt-get', 'update', '-qq'],
          ['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...packages],
        ],
        env: { DEBIAN_FRONTEND: 'noninteractive' },
      });
    } else {
      const how = machine.hasAptGet
        ? `${packages.join(', ')}: sudo apt-get install -y ${packages.join(' ')}`
        : `${packages.join(', ')} (Debian's names): install them with this system's package manager`;
      missing.push(`${how}${purpose === 'start' ? ', or set REDIS_URL to a running Redis' : ''}`);
    }
  }

  if (machine.nodeModules !== 'current') {
    steps.push({
      title: machine.nodeModules === 'missing' ? 'node_modules (npm ci)' : 'node_modules, older than package-lock.json (npm ci)',
      commands: [['npm', 'ci', '--no-audit', '--no-fund']],
    });
  }

  const tools = needs.goTools.filter((name) => !machine.goTools[name]);
  if (tools.length > 0) {
    if (machine.hasGo) {
      steps.push({ title: `the Go tools, for ${tools.join(', ')} (npm run build:tools)`, commands: [['npm', 'run', 'build:tools']] });
    } else {
      const why = purpose === 'start' ? ' (or set MONGO_URL to a running MongoDB)' : '';
      missing.push(`Go 1.24 or later, to build ${tools.join(', ')}: https://go.dev/doc/install${why}`);
    }
  }

  if (needs.deployTools && !machine.deployToolsReady) {
    if (machine.hasPython3) {
      steps.push({ title: 'deploy tools venv (npm run setup:deploy-tools)', commands: [['npm', 'run', 'setup:deploy-tools']] });
    } else {
      missing.push('python3 with venv, for the deploy tools: sudo apt-get install -y python3 python3-venv');
    }
  }

  if (missing.length === 0) return { steps, problem: null };
  const asRoot =
    packages.length > 0 && !machine.isRoot && machine.hasAptGet ? ` (as root, ${command} installs the Debian packages itself)` : '';
  return {
    steps: [],
    problem: [
      `${command} needs what this machine lacks; install it, then run ${command} again${asRoot}:`,
      ...missing.map((line) => `  - ${line}`),
    ].join('\n'),
  };
}

/** True when `name` is an executable on PATH (no shell spawned: this runs on every start). */
function onPath(name, env) {
  return (env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir || '.', name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function modifiedMs(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

function readText(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * npm writes node_modules/.package-lock.json on every install: older than package-lock.json
 * means the lock file changed since (a pull, a branch switch), so `npm ci` runs again.
 */
function nodeModulesState(root) {
  const installed = modifiedMs(join(root, 'node_modules', '.package-lock.json'));
  if (installed === undefined) return 'missing';
  const locked = modifiedMs(join(root, 'package-lock.json'));
  return locked !== undefined && installed < locked ? 'stale' : 'current';
}

/** The same test as scripts/setup-deploy-tools.sh's, without starting bash. */
function deployToolsReady(root) {
  const dir = join(root, 'tools', 'aws-emulator');
  const venv = join(dir, '.venv');
  const stamp = readText(join(venv, '.requirements'));
  return (
    executable(join(venv, 'bin', 'moto_server')) &&
    executable(join(venv, 'bin', 'cfn-lint')) &&
    stamp !== undefined &&
    stamp === readText(join(dir, 'requirements.txt'))
  );
}

/**
 * The facts {@link planBootstrap} decides on, read from this machine.
 *
 * @returns {import('./bootstrap.d.mts').MachineFacts}
 */
export function inspectMachine(root = PROJECT_ROOT, env = process.env) {
  return {
    isRoot: process.getuid?.() === 0,
    hasAptGet: onPath('apt-get', env),
    hasGo: onPath('go', env),
    hasPython3: onPath('python3', env),
    commands: Object.fromEntries(Object.keys(DEBIAN_PACKAGES).map((name) => [name, onPath(name, env)])),
    nodeModules: nodeModulesState(root),
    goTools: Object.fromEntries(GO_TOOLS.map((name) => [name, executable(join(root, 'tools', name, 'bin', name))])),
    deployToolsReady: deployToolsReady(root),
    redisUrlSet: Boolean(env.REDIS_URL),
    mongoUrlSet: Boolean(env.MONGO_URL),
    chromiumPathSet: Boolean(env.CHROMIUM_PATH),
  };
}

/**
 * Installs what `purpose` needs, printing each step; returns the exit code to leave with
 * (0: ready). `env` is the environment the decision reads (REDIS_URL, MONGO_URL, PATH).
 *
 * @param {'start' | 'test'} purpose
 */
export function bootstrap(purpose, env = process.env, root = PROJECT_ROOT) {
  const plan = planBootstrap(purpose, inspectMachine(root, env));
  if (plan.problem) {
    console.error(plan.problem);
    return 1;
  }
  for (const step of plan.steps) {
    const started = Date.now();
    console.log(`bootstrap: installing ${step.title}`);
    for (const [command, ...args] of step.commands) {
      const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...step.env } });
      if (result.status !== 0) {
        console.error(
          `bootstrap: \`${[command, ...args].join(' ')}\` failed (${result.error?.message ?? `exit ${result.status ?? result.signal}`})`,
        );
        return 1;
      }
    }
    console.log(`bootstrap: ${step.title} done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === import.meta.filename) {
  const purpose = process.argv[2];
  if (purpose !== 'start' && purpose !== 'test') {
    console.error('usage: node scripts/bootstrap.mjs start|test');
    process.exit(2);
  }
  process.exitCode = bootstrap(purpose);
}
