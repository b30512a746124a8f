/**
 * The load test's verdict, as pure functions of what it read from the door's replies and the
 * stores, so a unit test can feed it a lost event or a double application and watch it fail.
 */

/** A ledger entry of the run, as read from Mongo. */
export interface LedgerRecord {
  eventId: string;
  status: string;
  attemptHistory?: readonly unknown[];
}

/** Everything the reconciliation reads after the drain. */
export interface RunRecords {
  /** Events the door answered 202, each once. */
  accepted: readonly string[];
  /** The run's ledger entries. */
  ledger: readonly LedgerRecord[];
  /** Accepted events without a ledger entry whose job is still in Redis: queued, not lost. */
  stillQueued: ReadonlySet<string>;
  /** The event id of every application to a shipment, from the shipment store's own records. */
  applications: ReadonlyArray<{ eventId: string }>;
  /** The reason of each of the run's dead letters. */
  deadLetterReasons: readonly string[];
}

/** What the door said, counted by the load generator. */
export interface DoorCounts {
  /** Replies other than 2xx, plus connection errors and timeouts. */
  non2xx: number;
  /** Requests that re-sent an earlier event. */
  duplicatesSent: number;
  /** 202 replies, warm-up included. */
  replies202: number;
  /** 202 replies that said `duplicate: true`. */
  duplicatesFlagged: number;
}

export interface RunReconciliation {
  accepted: number;
  ledgerEntries: number;
  routed: number;
  deadLettered: number;
  /** Still queued, or claimed and not yet ROUTED or DEAD_LETTERED. */
  inFlight: number;
  /** Accepted, yet neither in the ledger nor in Redis. */
  lost: string[];
  /** Events with more than one application on record. */
  appliedMoreThanOnce: string[];
  /** Accepted events applied exactly once (the others were older than their shipment's state, or dead-lettered). */
  appliedOnce: number;
  failedAttempts: number;
  retriedEvents: number;
  deadLettersByReason: Record<string, number>;
}

/** Accepted events without a ledger entry: the ones to look for in Redis. */
export function untouchedEvents(accepted: readonly string[], ledger: readonly LedgerRecord[]): string[] {
  const inLedger = new Set(ledger.map((entry) => entry.eventId));
  return accepted.filter((id) => !inLedger.has(id));
}

/** Counts the run's outcome from its records. */
export function reconcileRun(records: RunRecords): RunReconciliation {
  const accepted = new Set(records.accepted);
  const entries = records.ledger.filter((entry) => accepted.has(entry.eventId));
  const untouched = untouchedEvents(records.accepted, entries);
  const queued = untouched.filter((id) => records.stillQueued.has(id)).length;
  const routed = entries.filter((e) => e.status === 'ROUTED').length;
  const deadLettered = entries.filter((e) => e.status === 'DEAD_LETTERED').length;
  const applications = new Map<string, number>();
  for (const { eventId } of records.applications) applications.set(eventId, (applications.get(eventId) ?? 0) + 1);
  const deadLettersByReason: Record<string, number> = {};
  for (const reason of records.deadLetterReasons) deadLettersByReason[reason] = (deadLettersByReason[reason] ?? 0) + 1;
  return {
    accepted: accepted.size,
    ledgerEntries: entries.length,
    routed,
    deadLettered,
    inFlight: entries.length - routed - deadLettered + queued,
    lost: untouched.filter((id) => !records.stillQueued.has(id)),
    appliedMoreThanOnce: [...applications].filter(([, n]) => n > 1).map(([id]) => id),
    appliedOnce: [...accepted].filter((id) => applications.get(id) === 1).length,
    failedAttempts: entries.reduce((sum, e) => sum + (e.attemptHistory?.length ?? 0), 0),
    retriedEvents: entries.filter((e) => (e.attemptHistory?.length ?? 0) > 0).length,
    deadLettersByReason,
  };
}

/** The promises the run is held to, each with whether it held. */
export function runChecks(recon: RunReconciliation, door: DoorCounts, failureRate: number): Array<[string, boolean]> {
  return [
    ['zero non-2xx replies, errors or timeouts', door.non2xx === 0],
    [
      'accepted = ROUTED + DEAD_LETTERED, nothing in flight at the deadline',
      recon.inFlight === 0 && recon.routed + recon.deadLettered === recon.accepted,
    ],
    ['zero lost (every accepted event is in the ledger or still queued)', recon.lost.length === 0],
    [
      `duplicates suppressed: of ${door.duplicatesSent} re-sent, zero events applied more than once (counted from the shipment version records, not the ledger)`,
      recon.appliedMoreThanOnce.length === 0,
    ],
    // The door's duplicate marker is set once per key: every 202 but one per event is a re-send.
    ['the door flagged exactly the re-sends `duplicate: true`', door.duplicatesFlagged === door.replies202 - recon.accepted],
    ['retries observed', failureRate === 0 || recon.retriedEvents > 0],
  ];
}
