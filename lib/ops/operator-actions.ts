import { opsConfig } from '../config';
import { replayDeadLetters, type parseReplayRequest, type ReplayReport } from '../dead-letters/replay';
import { sharedConfig, sharedDb, sharedDeadLetters, sharedEventQueue, sharedRedis } from '../infrastructure';
import { MongoLedger } from '../ledger/ledger';
import { rerouteEvents, rerouteProgress, type RerouteOutcome, type RerouteProgress } from '../reroutes/reroute';
import type { RerouteRequest } from '../reroutes/reroute-request';
import { AuditTrail } from './audit-trail';
import { ALL_SOURCES, PauseStore, type Pause, type PauseView } from './pauses';

/** Who acts, as the audit trail records it. */
export interface Operator {
  /** `keyIdOf(key)` of the operator key presented; null for a function invoked with AWS credentials. */
  keyId: string | null;
  /** The route or function the action came through. */
  via: string;
}

/** The audit trail of this process, on the shared database. */
export async function sharedAuditTrail(): Promise<AuditTrail> {
  return new AuditTrail(await sharedDb(), { retentionDays: opsConfig().auditRetentionDays });
}

/**
 * Replays dead letters for an operator, the same from HTTP and from `invoke`, and records the
 * action in the audit trail however it ends.
 *
 * @example
 * await replayAsOperator(parseReplayRequest(body), { keyId: keyIdOf(key), via: 'POST /v1/ops/dlq/replay' });
 */
export async function replayAsOperator(request: ReturnType<typeof parseReplayRequest>, operator: Operator): Promise<ReplayReport> {
  const [db, deadLetters, events, trail] = await Promise.all([sharedDb(), sharedDeadLetters(), sharedEventQueue(), sharedAuditTrail()]);
  return trail.audited(
    { ...operator, action: 'replay', request: { ...request }, dryRun: request.dryRun },
    () =>
      replayDeadLetters(request, {
        deadLetters,
        events,
        ledger: new MongoLedger(db),
        defaultRatePerSecond: opsConfig().replayRatePerSecond,
      }),
    (report) => report.replayed.length + report.skipped.length,
  );
}

/**
 * Re-routes events for an operator (a dry run unless confirmed), the same from HTTP and from
 * `invoke`, and records the action in the audit trail however it ends.
 *
 * @example
 * await rerouteAsOperator(parseRerouteRequest(body), { keyId: keyIdOf(key), via: 'POST /v1/ops/reroutes' });
 */
export async function rerouteAsOperator(request: RerouteRequest, operator: Operator): Promise<RerouteOutcome> {
  const [db, events, trail] = await Promise.all([sharedDb(), sharedEventQueue(), sharedAuditTrail()]);
  return trail.audited(
    { ...operator, action: 'reroute', request: { ...request }, dryRun: !request.confirm },
    () => rerouteEvents(request, operator, { db, events, defaultRatePerSecond: opsConfig().replayRatePerSecond }),
    (outcome) => outcome.reply.matched,
  );
}

/** Where a confirmed re-route is (read-only, not audited). */
export async function rerouteProgressOf(requestId: string): Promise<RerouteProgress> {
  return rerouteProgress(requestId, { db: await sharedDb() });
}

/** The pauses of this gateway's queue. */
export async function sharedPauses(): Promise<PauseStore> {
  return new PauseStore(await sharedRedis('producer'), (await sharedConfig()).queuePrefix);
}

/** Pauses one source, or every source when `source` is absent, and records who did it. */
export async function pauseAsOperator(request: { source?: string; reason: string }, operator: Operator): Promise<Pause> {
  const [pauses, trail] = await Promise.all([sharedPauses(), sharedAuditTrail()]);
  return trail.audited(
    { ...operator, action: 'pause', request: { ...request }, dryRun: false },
    () => pauses.pause(request.source ?? ALL_SOURCES, { by: operator.keyId, reason: request.reason }),
    () => 0,
  );
}

/** Ends the pause of one source, or of every source, and records who did it; the held events drain. */
export async function resumeAsOperator(
  request: { source?: string; reason?: string },
  operator: Operator,
): Promise<{ resumed: Pause | null; held: number }> {
  const [pauses, trail] = await Promise.all([sharedPauses(), sharedAuditTrail()]);
  return trail.audited(
    { ...operator, action: 'resume', request: { ...request }, dryRun: false },
    async () => {
      const scope = request.source ?? ALL_SOURCES;
      const held = (await pauses.list()).find((pause: PauseView) => pause.scope === scope)?.held ?? 0;
      return { resumed: await pauses.resume(scope), held };
    },
    (result) => result.held,
  );
}
