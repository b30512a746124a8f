import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { ValidationError } from '../errors';
import { EventStatus } from '../events/status';
import type { Ledger } from '../ledger/ledger';
import type { EventQueue } from '../queue/event-queue';
import { jobIdFor } from '../queue/names';
import { DeadLetterReason, type DeadLetterFilter, type DeadLetterStore } from './dead-letter-store';

/**
 * What an operator asks a replay for, the same from `serverless invoke local -f replay --data`
 * and from `POST /v1/ops/dlq/replay`. Every selector narrows; none selects every pending one.
 */
export const replayRequestSchema = z.strictObject({
  ids: z.array(z.string().min(1)).max(10_000).optional(),
  source: z.string().min(1).optional(),
  eventType: z.string().min(1).optional(),
  reason: z.enum(Object.values(DeadLetterReason) as [DeadLetterReason, ...DeadLetterReason[]]).optional(),
  failedFrom: z.iso.datetime({ offset: true }).optional(),
  failedTo: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(100_000).default(100),
  dryRun: z.boolean().default(false),
  /** Events per second put back on the main queue; defaults to REPLAY_RATE_PER_SECOND. */
  ratePerSecond: z.coerce.number().positive().max(10_000).optional(),
});
export type ReplayRequest = z.input<typeof replayRequestSchema>;

/** Parses a replay request, with field errors a 400 can list. */
export function parseReplayRequest(input: unknown): z.output<typeof replayRequestSchema> {
  const result = replayRequestSchema.safeParse(input ?? {});
  if (!result.success) {
    throw new ValidationError(result.error.issues.map((issue) => ({ path: issue.path.join('.') || '(body)', message: issue.message })));
  }
  return result.data;
}

export interface ReplayedEvent {
  eventId: string;
  idempotencyKey: string;
  reason: string;
  jobId?: string;
}

export interface ReplayReport {
  dryRun: boolean;
  /** Replayed (or, in a dry run, would be). */
  replayed: ReplayedEvent[];
  skipped: Array<ReplayedEvent & { why: string }>;
  /** Achieved pace, events per second (0 in a dry run). */
  ratePerSecond: number;
}

export interface ReplayDependencies {
  deadLetters: DeadLetterStore;
  events: EventQueue;
  ledger: Ledger;
  /** Default pace when the request gives none. */
  defaultRatePerSecond: number;
}

function toFilter(request: z.output<typeof replayRequestSchema>): DeadLetterFilter {
  return {
    ...(request.ids ? { eventIds: request.ids } : {}),
    ...(request.source ? { source: request.source } : {}),
    ...(request.eventType ? { eventType: request.eventType } : {}),
    ...(request.reason ? { reason: request.reason } : {}),
    ...(request.failedFrom ? { failedFrom: new Date(request.failedFrom) } : {}),
    ...(request.failedTo ? { failedTo: new Date(request.failedTo) } : {}),
  };
}

/**
 * Moves the selected dead letters back to the main queue, oldest failure first, at most
 * `ratePerSecond` a second. Each record is taken atomically before it is replayed, so two
 * replays running at once replay it once; each replay round has a job id of its own
 * (`…-r<n>`), so a retried replay adds nothing twice. An event the ledger already shows ROUTED
 * is not routed again: its dead letter is closed as RESOLVED. Replayed events keep their
 * correlation id; the replay is recorded on the dead letter and the ledger entry.
 *
 * @example
 * await replayDeadLetters(parseReplayRequest({ source: 'dhl', limit: 10, dryRun: true }), deps);
 */
export async function replayDeadLetters(request: z.output<typeof replayRequestSchema>, deps: ReplayDependencies): Promise<ReplayReport> {
  const report: ReplayReport = { dryRun: request.dryRun, replayed: [], skipped: [], ratePerSecond: 0 };
  const { items } = await deps.deadLetters.list(toFilter(request), { limit: request.limit });
  const pace = pacer(request.ratePerSecond ?? deps.defaultRatePerSecond);
  for (const selected of items) {
    const base = { eventId: selected.eventId, idempotencyKey: selected.idempotencyKey, reason: selected.reason };
    if (request.dryRun) {
      report.replayed.push(base);
      continue;
    }
    const outcome = await replayOne(selected._id, deps, () => pace.waitTurn(report.replayed.length));
    if ('why' in outcome) report.skipped.push({ ...base, why: outcome.why });
    else report.replayed.push({ ...base, jobId: outcome.jobId });
  }
  report.ratePerSecond = request.dryRun ? 0 : pace.achievedRate(report.replayed.length);
  return report;
}

/**
 * Takes one dead letter and puts its event back on the main queue, or says why not. A failure
 * after the take lets the record go again, so the next replay can pick it up.
 */
async function replayOne(
  id: string,
  deps: ReplayDependencies,
  waitTurn: () => Promise<void>,
): Promise<{ jobId: string } | { why: string }> {
  const record = await deps.deadLetters.claimForReplay(id);
  if (!record) return { why: 'taken by another replay' };
  try {
    const entry = await deps.ledger.findByKey(record.idempotencyKey);
    if (entry?.status === EventStatus.ROUTED) {
      await deps.deadLetters.markResolved(record);
      return { why: 'already routed' };
    }
    await waitTurn();
    const jobId = `${jobIdFor(record.idempotencyKey)}-r${record.replayCount + 1}`;
    await deps.ledger.markQueuedForReplay(record.idempotencyKey, jobId);
    await deps.events.enqueue(record.item, jobId);
    await deps.deadLetters.markReplayed(record, jobId);
    return { jobId };
  } catch (error) {
    await deps.deadLetters.releaseReplay(record._id).catch(() => undefined);
    throw error;
  }
}

/** The n-th replayed event goes out no sooner than n / rate seconds after the start. */
function pacer(ratePerSecond: number) {
  const started = performance.now();
  return {
    async waitTurn(n: number): Promise<void> {
      const wait = started + (n * 1000) / ratePerSecond - performance.now();
      if (wait > 0) await sleep(wait);
    },
    /** Events per second achieved between the first and the last of `count`. */
    achievedRate(count: number): number {
      const seconds = (performance.now() - started) / 1000;
      return seconds > 0 && count > 1 ? Number(((count - 1) / seconds).toFixed(1)) : 0;
    },
  };
}
