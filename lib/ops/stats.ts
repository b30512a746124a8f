import type { Queue } from 'bullmq';
import type { DeadLetterStore } from '../dead-letters/dead-letter-store';
import type { Ledger } from '../ledger/ledger';

export interface GatewayStats {
  queue: Record<string, number>;
  /** `pending`: PENDING dead-letter records in Mongo, the truth; `queued`: their derived jobs in Redis `events-dlq`. */
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
  const [queue, pending, queued, ledger, oldestWaiting] = await Promise.all([
    deps.events.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'),
    deps.deadLetters.pendingCount(),
    deps.deadLetters.queue.getWaitingCount(),
    deps.ledger.countByStatus(),
    oldestWaitingSeconds(deps.events, now),
  ]);
  return {
    queue,
    deadLetterQueue: { pending, queued },
    ledger,
    oldestWaitingSeconds: oldestWaiting,
    at: new Date(now).toISOString(),
  };
}

/**
 * How long the oldest event still waiting for a worker has waited, in whole seconds; 0 when
 * none waits. Shared by the operator stats and the worker's cloud metrics, so the alarm and
 * the operator's view can never disagree on what "behind" means.
 */
export async function oldestWaitingSeconds(events: Pick<Queue, 'getJobs'>, now = Date.now()): Promise<number> {
  const [oldest] = await events.getJobs(['waiting'], 0, 0, true);
  return oldest?.timestamp ? Math.max(0, Math.round((now - oldest.timestamp) / 1000)) : 0;
}
