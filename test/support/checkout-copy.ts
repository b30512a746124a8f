import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { PROJECT_ROOT } from './processes';

/** What a fresh clone does not have: local data and keys, build output, history. */
const LEFT_OUT = new Set(['.git', 'node_modules', 'tmp', '.env', '.serverless', '.esbuild', '.build-bench-modes', 'dist', 'coverage']);

/**
 * A copy of this checkout as a fresh clone has it: no tmp/ and no .env. Installing node_modules
 * and building the Go tools again would take minutes on every run, so those are symlinks to
 * this checkout's, which the bootstrap finds installed (the copy keeps timestamps, so
 * package-lock.json is no newer than node_modules, as here).
 */
export function copyCheckout(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-fresh-clone-'));
  cpSync(PROJECT_ROOT, dir, {
    recursive: true,
    preserveTimestamps: true,
    filter: (source) => {
      const parts = relative(PROJECT_ROOT, source).split(sep);
      if (LEFT_OUT.has(parts[0]!)) return false;
      return !(parts[0] === 'tools' && (parts[2] === 'bin' || parts[2] === '.venv'));
    },
  });
  symlinkSync(join(PROJECT_ROOT, 'node_modules'), join(dir, 'node_modules'));
  for (const tool of readdirSync(join(PROJECT_ROOT, 'tools'))) {
    const bin = join(PROJECT_ROOT, 'tools', tool, 'bin');
    if (existsSync(bin)) symlinkSync(bin, join(dir, 'tools', tool, 'bin'));
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Parent pid of every process, from /proc (Linux). */
function parents(): Map<number, number> {
  const map = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      map.set(Number(entry), ppid);
    } catch {
      /* exited while listing */
    }
  }
  return map;
}

/** `pid` and every process below it, now. */
export function processTree(pid: number): number[] {
  const ppids = parents();
  const found = [pid];
  for (let i = 0; i < found.length; i++) {
    for (const [child, parent] of ppids) if (parent === found[i]) found.push(child);
  }
  return found;
}

/** Still running: present and not a zombie waiting to be reaped. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The command line of a process, for failure messages. */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '(gone)';
  }
}
