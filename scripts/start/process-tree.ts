import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { lineFormatter, type LogStream } from './log-lines';

/** One process `npm start` runs. */
export interface ChildSpec {
  name: string;
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** How long a stop may take (the worker's drain) before its process group is killed. */
  stopTimeoutMs: number;
}

/** How a child ended: an exit code, a signal, or an error starting it. */
export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

/** Lines kept per child, to say why it died. */
const LAST_LINES = 15;

export function describeExit(exit: ChildExit): string {
  if (exit.error) return `could not be started (${exit.error.message})`;
  return exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
}

/** A running child, its own process group's leader, with its last lines of output. */
export class SupervisedChild {
  readonly exited: Promise<ChildExit>;
  private exit: ChildExit | undefined;
  private readonly recent: string[] = [];

  constructor(
    readonly spec: ChildSpec,
    readonly process: ChildProcess,
    log: LogStream,
  ) {
    this.exited = new Promise((done) => {
      process.once('error', (error) => {
        // A spawn failure emits no 'exit'.
        if (process.pid === undefined) done((this.exit = { code: null, signal: null, error }));
      });
      process.once('exit', (code, signal) => done((this.exit = { code, signal })));
    });
    const format = lineFormatter();
    for (const stream of [process.stdout, process.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        this.recent.push(line);
        if (this.recent.length > LAST_LINES) this.recent.shift();
        for (const shown of format(line)) log.line(spec.name, shown);
      });
    }
  }

  get name(): string {
    return this.spec.name;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  lastLines(): string[] {
    return [...this.recent];
  }

  /** Signals the whole group (the leader and whatever it started); gone already is fine. */
  signalGroup(signal: NodeJS.Signals): void {
    if (this.process.pid === undefined) return;
    try {
      process.kill(-this.process.pid, signal);
    } catch {
      /* the group has no process left */
    }
  }

  /**
   * SIGTERM to the leader alone, which passes it on once (tsx to the worker, which drains; a
   * second SIGTERM would make the worker quit without draining). Past the timeout, or once the
   * leader is gone, the group is killed, so nothing it started outlives it. True when it exited
   * by itself, with code 0 or by that SIGTERM.
   */
  async stop(): Promise<boolean> {
    if (this.running) this.process.kill('SIGTERM');
    const exit = await Promise.race([this.exited, sleep(this.spec.stopTimeoutMs).then(() => undefined)]);
    this.signalGroup('SIGKILL');
    if (!exit) {
      await this.exited;
      return false;
    }
    return !exit.error && (exit.code === 0 || exit.signal === 'SIGTERM');
  }
}

/**
 * The processes of one `npm start`, each in its own process group: a Ctrl-C at the terminal
 * reaches `npm start` alone, which stops them in order (the worker drains before Redis goes).
 */
export class ProcessTree {
  private readonly children: SupervisedChild[] = [];
  private stopping = false;

  constructor(
    private readonly log: LogStream,
    /** Called once per child that exits while nothing asked it to. */
    private readonly onUnexpectedExit: (child: SupervisedChild, exit: ChildExit) => void,
  ) {}

  start(spec: ChildSpec): SupervisedChild {
    const child = new SupervisedChild(
      spec,
      spawn(spec.command, spec.args, { cwd: spec.cwd, env: spec.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] }),
      this.log,
    );
    this.children.push(child);
    void child.exited.then((exit) => {
      if (!this.stopping) this.onUnexpectedExit(child, exit);
    });
    return child;
  }

  pids(): number[] {
    return this.children.flatMap((child) => (child.process.pid === undefined ? [] : [child.process.pid]));
  }

  /**
   * Stops the children in stages (each stage's children at once, a stage after the one before
   * it). True when every child stopped by itself.
   */
  async stop(stages: string[][]): Promise<boolean> {
    this.stopping = true;
    let clean = true;
    for (const names of [...stages, this.children.map((child) => child.name)]) {
      const results = await Promise.all(
        this.children
          .filter((child) => names.includes(child.name))
          .map(async (child) => {
            const wasRunning = child.running;
            const stopped = await child.stop();
            if (!wasRunning) return true;
            const exit = describeExit(await child.exited);
            this.log.line(child.name, stopped ? `stopped (it ${exit})` : `did not stop cleanly: it ${exit}`);
            return stopped;
          }),
      );
      clean &&= results.every(Boolean);
    }
    return clean;
  }

  /** SIGKILL to every group now: a second Ctrl-C. */
  kill(): void {
    this.stopping = true;
    for (const child of this.children) child.signalGroup('SIGKILL');
  }
}
