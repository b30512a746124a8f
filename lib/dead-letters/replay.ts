import { EventStatus } from '../events/status';
import type { Ledger } from '../ledger/ledger';
import type { EventQueue } from '../queue/event-queue';
import { jobIdFor } from '../queue/names';
import type { DeadLetterStore } from './dead-letter-store';

export interface ReplayRequest {
  /** At most this many dead letters are looked at. */
  limit: number;
  /** Report what would be replayed and change nothing. */
  dryRun: boolean;
}

export interface ReplayedEvent {
  eventId: string;
  idempotencyKey: string;
  reason: string;
  jobId?: string;
}

export interface ReplayReport {
  dryRun: boolean;
  replayed: ReplayedEvent[];
  skipped: Array<ReplayedEvent & { why: string }>;
}

export interface ReplayDependencies {
  deadLetters: DeadLetterStore;
  events: EventQueue;
  ledger: Ledger;
}

/**
 * Moves dead letters back to the main queue, oldest first. Each replay gets a job id of its
 * own round (`…-r<n>`), so running the same replay twice adds nothing twice; an event the
 * ledger already shows ROUTED is dropped from the dead letters instead of being routed again.
 *
 * @example
 * await replayDeadLetters({ limit: 10, dryRun: true }, deps); // { dryRun: true, replayed: [...] }
 */
export async function replayDeadLetters(request: ReplayRequest, deps: ReplayDependencies): Promise<ReplayReport> {
  const report: ReplayReport = { dryRun: request.dryRun, replayed: [], skipped: [] };
  const jobs = await deps.deadLetters.queue.getJobs(['waiting'], 0, Math.max(0, request.limit - 1), true);
  for (const job of jobs) {
    const { recordId, item } = job.data;
    const record = await deps.deadLetters.findRecord(recordId);
    const key = item.event.idempotencyKey;
    const base = { eventId: item.event.eventId, idempotencyKey: key, reason: record?.reason ?? 'UNKNOWN' };
    const ledgerEntry = await deps.ledger.findByKey(key);
    if (ledgerEntry?.status === EventStatus.ROUTED) {
      report.skipped.push({ ...base, why: 'already routed' });
      if (!request.dryRun) await job.remove();
      continue;
    }
    if (request.dryRun) {
      report.replayed.push(base);
      continue;
    }
    const jobId = `${jobIdFor(key)}-r${(record?.replayCount ?? 0) + 1}`;
    await deps.ledger.markQueuedForReplay(key);
    await deps.events.enqueue(item, jobId);
    await deps.deadLetters.markReplayed(recordId, jobId);
    await job.remove();
    report.replayed.push({ ...base, jobId });
  }
  return report;
}
