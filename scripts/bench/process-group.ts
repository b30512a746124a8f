import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * `/proc/<pid>/<file>` of every live process in a process group (an npm script started with
 * `runScript`, and what it runs); a process that exits meanwhile is left out.
 */
export function procFilesOfGroup(pgid: number, file: 'stat' | 'status'): string[] {
  const pids = execFileSync('ps', ['-o', 'pid=', '-g', String(pgid)], { encoding: 'utf8' })
    .split('\n')
    .map((p) => p.trim())
    .filter(Boolean);
  return pids.flatMap((pid) => {
    try {
      return [readFileSync(`/proc/${pid}/${file}`, 'utf8')];
    } catch {
      return []; // exited
    }
  });
}

/** `/proc/<pid>/<file>` of each given process still alive (a server started by the benchmark). */
export function procFilesOf(pids: readonly number[], file: 'stat' | 'status'): string[] {
  return pids.flatMap((pid) => {
    try {
      return [readFileSync(`/proc/${pid}/${file}`, 'utf8')];
    } catch {
      return []; // exited
    }
  });
}

let clockTicksPerSecond: number | undefined;

/** CPU seconds (user + system) used so far by the processes of these `/proc/<pid>/stat` texts. */
export function cpuSecondsOf(stats: readonly string[]): number {
  clockTicksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  let ticks = 0;
  for (const stat of stats) {
    // Fields after the command name: state is the 1st, utime the 12th, stime the 13th.
    const fields = stat.split(') ').pop()!.split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / clockTicksPerSecond;
}

/** The process and every live descendant of it (a command run under `script`, which starts a session of its own). */
export function processTree(rootPid: number): number[] {
  const children = new Map<number, number[]>();
  for (const line of execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' }).split('\n')) {
    const [pid, ppid] = line.trim().split(/\s+/).map(Number);
    if (!pid || ppid === undefined) continue;
    children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const tree: number[] = [];
  const pending = [rootPid];
  while (pending.length > 0) {
    const pid = pending.pop()!;
    tree.push(pid);
    pending.push(...(children.get(pid) ?? []));
  }
  return tree;
}
