import type { Queue } from 'bullmq';
import type { DeadLetterStore } from '../dead-letters/dead-letter-store';
import type { Ledger } from '../ledger/ledger';

export interface GatewayStats {
  queue: Record<string, number>;
  deadLetterQueue: { pending: number; queued: number };
  ledger: Record<string, number>;
  /** Age of the oldest event still waiting for a worker, 0 when none waits. */
  oldestWaitingSeconds: number;
  at: string;
}

export interface StatsDependencies {
  events: Queue;
  deadLetters: Pick<DeadLetterStore, 'pendingCount' | 'queue'>;
  ledger: Pick<Ledger, 'countByStatus'>;
}

/** What an operator checks first: where the events are, and how far behind the worker is. */
export async function gatewayStats(deps: StatsDependencies, now = Date.now()): Promise<GatewayStats> {
  const [queue, pending, queued, ledger, oldest] = await Promise.all([
    deps.events.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'),
    deps.deadLetters.pendingCount(),
    deps.deadLetters.queue.getWaitingCount(),
    deps.ledger.countByStatus(),
    deps.events.getJobs(['waiting'], 0, 0, true),
  ]);
  const oldestAt = oldest[0]?.timestamp;
  return {
    queue,
    deadLetterQueue: { pending, queued },
    ledger,
    oldestWaitingSeconds: oldestAt ? Math.max(0, Math.round((now - oldestAt) / 1000)) : 0,
    at: new Date(now).toISOString(),
  };
}
