import { readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/**
 * Lowers the CPU priority (raises the nice value) of every thread of this process, to `nice`.
 *
 * Why: the worker's pace is set by its concurrency and the routing service, not by the CPU, while
 * the door's latency is the CPU it gets when a burst arrives. Where both share a machine (a
 * developer's `npm run offline` and `npm run worker`, docker compose), the scheduler then gives
 * the door the cores first during a burst and the worker catches up after it
 * (docs/performance-tail.md). A worker alone on its machine or container is unaffected: nice only
 * orders the processes of one machine.
 *
 * Linux keeps a nice value per thread, so each thread in /proc/self/task is set; threads started
 * later inherit it from the thread that starts them. Elsewhere the process's is set. A thread
 * already at or above `nice` is left as it is (lowering a nice value needs privileges). Returns
 * how many threads were changed.
 */
export function lowerPriority(nice: number): number {
  if (nice <= 0) return 0;
  let threads: number[];
  try {
    threads = readdirSync('/proc/self/task').map(Number);
  } catch {
    threads = [0];
  }
  let changed = 0;
  for (const thread of threads) {
    try {
      if (getPriority(thread) >= nice) continue;
      setPriority(thread, nice);
      changed++;
    } catch {
      /* the thread has exited */
    }
  }
  return changed;
}
