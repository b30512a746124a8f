/** Types of scripts/bootstrap.mjs, which stays plain JavaScript because it runs before `npm ci`. */

export type Purpose = 'start' | 'test';

/** What the bootstrap knows about the machine; everything {@link planBootstrap} decides on. */
export interface MachineFacts {
  isRoot: boolean;
  hasAptGet: boolean;
  hasGo: boolean;
  hasPython3: boolean;
  /** Whether each command of DEBIAN_PACKAGES is on PATH. */
  commands: Record<string, boolean>;
  nodeModules: 'missing' | 'stale' | 'current';
  /** Whether each Go tool's binary is built. */
  goTools: Record<string, boolean>;
  deployToolsReady: boolean;
  redisUrlSet: boolean;
  mongoUrlSet: boolean;
  chromiumPathSet: boolean;
}

export interface BootstrapStep {
  title: string;
  commands: string[][];
  env?: Record<string, string>;
}

/** Either steps to run (none: ready) or one message naming what to install by hand. */
export interface BootstrapPlan {
  steps: BootstrapStep[];
  problem: string | null;
}

export const PROJECT_ROOT: string;
export const DEBIAN_PACKAGES: Record<string, string>;
export const GO_TOOLS: string[];
export function needsFor(
  purpose: Purpose,
  settings: Pick<MachineFacts, 'redisUrlSet' | 'mongoUrlSet' | 'chromiumPathSet'>,
): { commands: string[]; goTools: string[]; deployTools: boolean };
export function planBootstrap(purpose: Purpose, machine: MachineFacts): BootstrapPlan;
export function inspectMachine(root?: string, env?: NodeJS.ProcessEnv): MachineFacts;
export function bootstrap(purpose: Purpose, env?: NodeJS.ProcessEnv, root?: string): number;
