import type { Collection, Filter, OptionalUnlessRequiredId } from 'mongodb';
import { insertIfAbsent } from './mongo';

/** The record of one taken step: unique by `_id`, stamped with when it was taken. */
export interface StepRecord {
  _id: string;
  at: Date;
}

/** The `_id` of step `step` of the thing named `key`: `<step>@<key>`. */
export function stepId(step: number, key: string): string {
  return `${step}@${key}`;
}

/**
 * Steps taken by unique insert: the gateway's one way to make a change exclusive (ledger rounds,
 * shipment versions, replay claims). A unique insert is atomic on MongoDB and FerretDB alike;
 * FerretDB 1.24's conditional updates are not atomic across connections, so a change is never
 * guarded by its filter alone.
 *
 * Whoever inserts step N's record owns step N and then writes the change it carries. The record
 * holds the change, so when its taker dies between the two writes, whoever finds the step taken
 * can write it for them (the change is idempotent: absolute values and set members):
 *
 * ```text
 *   taker A   ──insert N@key ✓────────── write change ──▶ thing at step N
 *   taker B   ───────insert N@key ✗ ──▶ read thing: still at N-1?
 *                                          ├─ A is writing, or died: roll forward
 *                                          │  (write N's change over N-1 only), look again
 *                                          └─ already at N: look again
 *             │◀─── window: step N taken, thing still at N-1 ───▶│
 * ```
 *
 * @example
 * const steps = new ExclusiveSteps(db.collection<RoundRecord>('ledger_rounds'));
 * const mine = await steps.take({ _id: stepId(2, key), change }, () => writeEntry(change));
 */
export class ExclusiveSteps<R extends StepRecord> {
  readonly #records: Collection<R>;
  readonly #now: () => number;

  /** `now` stamps the records and judges their age; Date.now unless a test injects a clock. */
  constructor(records: Collection<R>, now: () => number = Date.now) {
    this.#records = records;
    this.#now = now;
  }

  /**
   * Takes the step by inserting its record, then (if this caller got it) runs `write`, the change
   * the record carries. False when another caller took the step first; nothing is written then.
   */
  async take(record: Omit<R, 'at'>, write?: () => Promise<void>): Promise<boolean> {
    const stamped = { ...record, at: new Date(this.#now()) } as unknown as OptionalUnlessRequiredId<R>;
    if (!(await insertIfAbsent(this.#records, stamped))) return false;
    if (write) await write();
    return true;
  }

  /** The record of a taken step, or null when nobody took it. */
  async find(id: string): Promise<R | null> {
    return (await this.#records.findOne({ _id: id } as Filter<R>)) as R | null;
  }

  /**
   * Writes the change of a step another caller took, for a taker that may have died: `write`
   * gets the record, and must write only over the step before. `abandonedAfterMs` is how old the
   * record must be first (0: at once). Says what it found: no such step, one too young to be
   * abandoned, or one rolled forward.
   */
  async rollForward(
    id: string,
    write: (record: R) => Promise<void>,
    abandonedAfterMs = 0,
  ): Promise<'absent' | 'in-progress' | 'rolled-forward'> {
    const record = await this.find(id);
    if (!record) return 'absent';
    if (abandonedAfterMs > 0 && this.#now() - record.at.getTime() < abandonedAfterMs) return 'in-progress';
    await write(record);
    return 'rolled-forward';
  }

  /** Frees a step taken more than `olderThanMs` ago (its taker died), so it can be taken again. */
  async freeAbandoned(id: string, olderThanMs: number): Promise<boolean> {
    const freed = await this.#records.deleteOne({ _id: id, at: { $lt: new Date(this.#now() - olderThanMs) } } as Filter<R>);
    return freed.deletedCount === 1;
  }

  /** Frees a step outright (the change it stood for will not happen). */
  async free(id: string): Promise<void> {
    await this.#records.deleteOne({ _id: id } as Filter<R>);
  }
}
