import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const PROJECT_ROOT = resolve(__dirname, '..', '..');

/** A real child process (an npm script), with its output kept for failure messages. */
export interface RunningProcess {
  child: ChildProcess;
  output(): string;
  /**
   * Sends the signal to npm, which passes it on once to the script (as `docker stop` would),
   * waits for the exit, and kills the whole process group if it does not come in time.
   */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  /**
   * Ctrl-C as a terminal sends it: SIGINT to every process of the script's group (npm passes it on
   * as well, which `npm start` expects), then SIGKILL to the group if it has not stopped in time.
   */
  interrupt(timeoutMs?: number): Promise<void>;
  /** SIGKILLs every process of the script at once, as a crash or an OOM kill would. */
  crash(): Promise<void>;
  exited: Promise<number | null>;
}

/**
 * Runs `npm run <script>` in its own process group, with the given environment on top of ours.
 * With `log`, its output goes to that file instead of through this process (a benchmark's stack,
 * whose output should cost the machine what a terminal's would), and `output()` reads the file.
 */
export function runScript(
  script: string,
  env: Record<string, string | undefined>,
  args: string[] = [],
  { log }: { log?: string } = {},
): RunningProcess {
  const fd = log === undefined ? undefined : openSync(log, 'w');
  const child = spawn('npm', ['run', '--silent', script, ...(args.length ? ['--', ...args] : [])], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    detached: true,
    stdio: fd === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', fd, fd],
  });
  if (fd !== undefined) closeSync(fd);
  let output = '';
  const keep = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return {
    child,
    exited,
    output: () => (log === undefined ? output : readFileSync(log, 'utf8').slice(-100_000)),
    async interrupt(timeoutMs = 15_000) {
      try {
        process.kill(-child.pid!, 'SIGINT');
      } catch {
        return; // already gone
      }
      if ((await Promise.race([exited, sleep(timeoutMs).then(() => 'timeout' as const)])) === 'timeout') await this.crash();
    },
    async crash() {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
      await exited;
    },
    async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const code = await Promise.race([exited, sleep(timeoutMs).then(() => 'timeout' as const)]);
      if (code === 'timeout') {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* already gone */
        }
        return exited;
      }
      return code;
    },
  };
}

/** Polls `check` until it returns a value (not undefined) or the time is up. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await sleep(everyMs);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)})` : ''}`,
  );
}

/** Runs a command to completion (as a user would type it) and returns its exit code and output. */
export function runCommand(command: string, args: string[], env: Record<string, string>, timeoutMs = 180_000) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((done, reject) => {
    const child = spawn(command, args, { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} timed out\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

/**
 * How a child process stands: both null while it runs. A child killed by a signal keeps a null
 * exit code (its `signalCode` says which signal), so the exit code alone cannot tell it is alive.
 */
export function exitState(child: ChildProcess): { code: number | null; signal: NodeJS.Signals | null } {
  return { code: child.exitCode, signal: child.signalCode };
}

export const RUNNING = { code: null, signal: null } as const;
