import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * `/proc/<pid>/<file>` of every live process in a process group (an npm script started with
 * `runScript`, and what it runs); a process that exits meanwhile is left out.
 */
export function procFilesOfGroup(pgid: number, file: 'stat' | 'status'): string[] {
  const pids = execFileSync('ps', ['-o', 'pid=', '-g', String(pgid)], { encoding: 'utf8' }).split('\n').map((p) => p.trim()).filter(Boolean);
  return pids.flatMap((pid) => {
    try {
      return [readFileSync(`/proc/${pid}/${file}`, 'utf8')];
    } catch {
      return []; // exited
    }
  });
}
