import { describe, expect, it } from 'vitest';
import { planBootstrap, type MachineFacts } from '../../scripts/bootstrap.mjs';

/** A Debian machine, as root, with everything installed; each test takes something away. */
function machine(overrides: Partial<MachineFacts> = {}): MachineFacts {
  return {
    isRoot: true,
    hasAptGet: true,
    hasGo: true,
    hasPython3: true,
    commands: { 'redis-server': true, 'redis-cli': true, chromium: true },
    nodeModules: 'current',
    goTools: { ferretdb: true, 'compose-check': true, toxiproxy: true },
    deployToolsReady: true,
    redisUrlSet: false,
    mongoUrlSet: false,
    chromiumPathSet: false,
    ...overrides,
  };
}

const fresh = {
  commands: { 'redis-server': false, 'redis-cli': false, chromium: false },
  nodeModules: 'missing',
  goTools: { ferretdb: false, 'compose-check': false, toxiproxy: false },
  deployToolsReady: false,
} as const;

describe('the bootstrap of npm start and npm test', () => {
  it('has nothing to do on a machine that has everything', () => {
    expect(planBootstrap('test', machine())).toEqual({ steps: [], problem: null });
    expect(planBootstrap('start', machine())).toEqual({ steps: [], problem: null });
  });

  it('installs everything npm test needs on a fresh Debian machine as root: packages, node_modules, Go tools, the venv', () => {
    const plan = planBootstrap('test', machine(fresh));
    expect(plan.problem).toBeNull();
    expect(plan.steps.map((step) => step.commands)).toEqual([
      [
        ['apt-get', 'update', '-qq'],
        ['apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'redis-server', 'redis-tools', 'chromium'],
      ],
      [['npm', 'ci', '--no-audit', '--no-fund']],
      [['npm', 'run', 'build:tools']],
      [['npm', 'run', 'setup:deploy-tools']],
    ]);
  });

  it('installs only what npm start runs: redis-server, node_modules and the Go tools, no browser and no venv', () => {
    const plan = planBootstrap('start', machine(fresh));
    expect(plan.steps.map((step) => step.commands.at(-1))).toEqual([
      ['apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'redis-server'],
      ['npm', 'ci', '--no-audit', '--no-fund'],
      ['npm', 'run', 'build:tools'],
    ]);
  });

  it('names every missing package and the command that installs it in one message when not root, and installs nothing', () => {
    const plan = planBootstrap('test', machine({ ...fresh, isRoot: false }));
    expect(plan.steps).toEqual([]);
    expect(plan.problem).toBe(
      [
        'npm test needs what this machine lacks; install it, then run npm test again (as root, npm test installs the Debian packages itself):',
        '  - redis-server, redis-tools, chromium: sudo apt-get install -y redis-server redis-tools chromium',
      ].join('\n'),
    );
  });

  it('tells npm start, when not root, to install redis-server or to point REDIS_URL at a running Redis', () => {
    const plan = planBootstrap(
      'start',
      machine({ isRoot: false, commands: { 'redis-server': false, 'redis-cli': false, chromium: false } }),
    );
    expect(plan.problem).toContain('redis-server: sudo apt-get install -y redis-server, or set REDIS_URL to a running Redis');
    expect(plan.problem).not.toContain('chromium');
  });

  it('starts nothing it does not run: with REDIS_URL and MONGO_URL set, npm start needs neither redis-server nor FerretDB', () => {
    const plan = planBootstrap('start', machine({ ...fresh, nodeModules: 'current', redisUrlSet: true, mongoUrlSet: true, hasGo: false }));
    expect(plan).toEqual({ steps: [], problem: null });
  });

  it('runs npm ci again when package-lock.json is newer than node_modules', () => {
    expect(planBootstrap('start', machine({ nodeModules: 'stale' })).steps).toEqual([
      { title: 'node_modules, older than package-lock.json (npm ci)', commands: [['npm', 'ci', '--no-audit', '--no-fund']] },
    ]);
  });

  it('says where to get Go and Python when the tools cannot be built, in the same one message', () => {
    const plan = planBootstrap('test', machine({ ...fresh, isRoot: false, hasGo: false, hasPython3: false }));
    expect(plan.problem?.split('\n')).toEqual([
      expect.stringContaining('npm test needs what this machine lacks'),
      '  - redis-server, redis-tools, chromium: sudo apt-get install -y redis-server redis-tools chromium',
      '  - Go 1.24 or later, to build ferretdb, compose-check, toxiproxy: https://go.dev/doc/install',
      '  - python3 with venv, for the deploy tools: sudo apt-get install -y python3 python3-venv',
    ]);
  });

  it("names Debian's packages without apt-get commands on a machine without apt-get", () => {
    const plan = planBootstrap(
      'start',
      machine({ isRoot: false, hasAptGet: false, commands: { 'redis-server': false, 'redis-cli': true, chromium: true } }),
    );
    expect(plan.problem).toBe(
      [
        'npm start needs what this machine lacks; install it, then run npm start again:',
        "  - redis-server (Debian's names): install them with this system's package manager, or set REDIS_URL to a running Redis",
      ].join('\n'),
    );
  });

  it('leaves the browser alone when CHROMIUM_PATH points at one', () => {
    const plan = planBootstrap(
      'test',
      machine({ commands: { 'redis-server': true, 'redis-cli': true, chromium: false }, chromiumPathSet: true }),
    );
    expect(plan.steps).toEqual([]);
  });
});
