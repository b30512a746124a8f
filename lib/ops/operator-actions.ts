import { opsConfig } from '../config';
import { replayDeadLetters, type parseReplayRequest, type ReplayReport } from '../dead-letters/replay';
import { sharedDb, sharedDeadLetters, sharedEventQueue } from '../infrastructure';
import { MongoLedger } from '../ledger/ledger';
import { AuditTrail } from './audit-trail';

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
