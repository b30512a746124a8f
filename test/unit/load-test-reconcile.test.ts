import { describe, expect, it } from 'vitest';
import { applicationsOf } from '../../lib/shipments/applications';
import { reconcileRun, runChecks, type DoorCounts, type RunRecords } from '../../scripts/load-test/reconcile';

/** A clean run: three events on two shipments, one re-sent, one retried, all ROUTED and applied once. */
function cleanRun(): RunRecords {
  return {
    accepted: ['e1', 'e2', 'e3'],
    ledger: [
      { eventId: 'e1', status: 'ROUTED' },
      { eventId: 'e2', status: 'ROUTED', attemptHistory: [{ error: 'TransientRoutingError' }] },
      { eventId: 'e3', status: 'ROUTED' },
    ],
    stillQueued: new Set(),
    applications: applicationsOf({
      shipments: [
        { _id: 'S-1', firstEventId: 'e1' },
        { _id: 'S-2', firstEventId: 'e3' },
      ],
      versions: [{ shipmentId: 'S-1', version: 2, change: { applied: { eventId: 'e2' } } }],
    }),
    deadLetterReasons: [],
  };
}

const door: DoorCounts = { non2xx: 0, duplicatesSent: 1, replies202: 4, duplicatesFlagged: 1 };

function failed(records: RunRecords, counts = door): string[] {
  return runChecks(reconcileRun(records), counts, 0.2)
    .filter(([, ok]) => !ok)
    .map(([name]) => name);
}

describe('the load test reconciliation', () => {
  it('passes a run where every event was routed and applied once', () => {
    expect(failed(cleanRun())).toEqual([]);
    expect(reconcileRun(cleanRun())).toMatchObject({ routed: 3, appliedOnce: 3, lost: [], appliedMoreThanOnce: [], retriedEvents: 1 });
  });

  it('fails a run where an event was applied twice, though the ledger holds one entry for it', () => {
    const run = cleanRun();
    const twice = { ...run, applications: [...run.applications, { eventId: 'e2' }] };
    expect(reconcileRun(twice).appliedMoreThanOnce).toEqual(['e2']);
    expect(failed(twice)).toEqual([expect.stringMatching(/^duplicates suppressed: .* zero events applied more than once/)]);
  });

  it('sees a double application that only the version records show, not the trimmed history', () => {
    const run = cleanRun();
    // e1 created S-1 and a later version applied it again: no history entry needed to see it.
    const records = applicationsOf({
      shipments: [{ _id: 'S-1', firstEventId: 'e1' }],
      versions: [{ shipmentId: 'S-1', version: 7, change: { applied: { eventId: 'e1' } } }],
    });
    expect(reconcileRun({ ...run, applications: records }).appliedMoreThanOnce).toEqual(['e1']);
  });

  it('fails a run that lost an accepted event, and names it', () => {
    const run = cleanRun();
    const lost = { ...run, accepted: [...run.accepted, 'e4'] };
    expect(reconcileRun(lost).lost).toEqual(['e4']);
    expect(failed(lost, { ...door, replies202: 5 })).toEqual([
      'accepted = ROUTED + DEAD_LETTERED, nothing in flight at the deadline',
      'zero lost (every accepted event is in the ledger or still queued)',
    ]);
  });

  it('counts an accepted event still queued in Redis as in flight, not lost', () => {
    const run = cleanRun();
    const queued = { ...run, accepted: [...run.accepted, 'e4'], stillQueued: new Set(['e4']) };
    expect(reconcileRun(queued)).toMatchObject({ lost: [], inFlight: 1 });
    expect(failed(queued, { ...door, replies202: 5 })).toEqual(['accepted = ROUTED + DEAD_LETTERED, nothing in flight at the deadline']);
  });

  it('fails a run where the door flagged a first delivery as a duplicate, or missed a re-send', () => {
    expect(failed(cleanRun(), { ...door, duplicatesFlagged: 2 })).toEqual(['the door flagged exactly the re-sends `duplicate: true`']);
    expect(failed(cleanRun(), { ...door, duplicatesFlagged: 0 })).toEqual(['the door flagged exactly the re-sends `duplicate: true`']);
  });

  it('fails a run with routing failures set where no event was retried', () => {
    const run = cleanRun();
    const noRetries = { ...run, ledger: run.ledger.map(({ eventId, status }) => ({ eventId, status })) };
    expect(failed(noRetries)).toEqual(['retries observed']);
  });
});
