import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * lowerPriority changes the process it runs in, so each case runs in a child Node process of its
 * own (with tsx, as `npm run worker` runs), which reports every thread's nice value from /proc.
 */
function inChild(script: string): { changed: number; before: number[]; after: number[] } {
  const module = resolve(__dirname, '../../lib/worker/priority.ts');
  const child = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=commonjs',
      '-e',
      `const { readdirSync, readFileSync } = require('node:fs');
       const { setPriority } = require('node:os');
       const { lowerPriority } = require(${JSON.stringify(module)});
       const nices = () => readdirSync('/proc/self/task').map((t) => Number(readFileSync('/proc/self/task/' + t + '/stat', 'utf8').split(') ')[1].split(' ')[16]));
       (async () => { ${script} })();`,
    ],
    { encoding: 'utf8', timeout: 20_000 },
  );
  if (child.status !== 0) throw new Error(child.stderr);
  return JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { changed: number; before: number[]; after: number[] };
}

describe.runIf(process.platform === 'linux')("the worker's CPU priority (WORKER_NICE)", () => {
  it('sets every thread of the process to the nice value, and threads started after it inherit it', () => {
    const { changed, before, after } = inChild(`
      const before = nices();
      const changed = lowerPriority(10);
      const thread = new (require('node:worker_threads').Worker)('setTimeout(() => {}, 2000)', { eval: true });
      await new Promise((online) => thread.once('online', online));
      console.log(JSON.stringify({ changed, before, after: nices() }));
      await thread.terminate();`);
    expect(before.every((nice) => nice === 0)).toBe(true);
    expect(changed).toBe(before.length);
    expect(before.length).toBeGreaterThan(1);
    // The worker thread started after the change (with V8's threads of its own) is at 10 too.
    expect(after.length).toBeGreaterThan(before.length);
    expect(after.every((nice) => nice === 10)).toBe(true);
  });

  it('with 0, leaves the process as it is', () => {
    const { changed, after } = inChild(`console.log(JSON.stringify({ changed: lowerPriority(0), before: [], after: nices() }));`);
    expect(changed).toBe(0);
    expect(after.every((nice) => nice === 0)).toBe(true);
  });

  it('never raises a priority already lower than asked', () => {
    const { changed, after } = inChild(`
      for (const t of readdirSync('/proc/self/task')) setPriority(Number(t), 15);
      console.log(JSON.stringify({ changed: lowerPriority(10), before: [], after: nices() }));`);
    expect(changed).toBe(0);
    expect(after.every((nice) => nice === 15)).toBe(true);
  });
});
