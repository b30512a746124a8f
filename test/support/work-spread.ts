import { MongoClient } from 'mongodb';
import { Collections } from '../../lib/store/mongo';
import type { RunningProcess } from './processes';

/**
 * The id a worker process runs under (`<host>-<pid>`), read from its "worker started" line: the
 * id it writes as the owner of every ledger round it takes.
 */
export function workerIdOf(worker: RunningProcess): string {
  for (const line of worker.output().split('\n')) {
    if (!line.includes('"worker started"')) continue;
    const { workerId } = JSON.parse(line) as { workerId?: string };
    if (workerId) return workerId;
  }
  throw new Error(`no "worker started" line with a workerId in the worker's output:\n${worker.output().slice(-2000)}`);
}

/** One completing transition of a ledger entry: the round that made it ROUTED or DEAD_LETTERED. */
export interface Completion {
  key: string;
  kind: 'routed' | 'dead';
  owner: string;
  at: Date;
}

/** The rounds of a database's ledger that matter here: completions and takeovers. */
export interface LedgerRounds {
  completions: Completion[];
  /** Claims of an entry after its first: a lease that ran out (its worker died) or a retry's. */
  takeovers: number;
}

/**
 * Every completion on record in a database, and how many takeovers, from the ledger's round records: each completion of
 * an entry takes a round with a unique insert, stamped with the lease owner that took it (`owner`,
 * `<workerId>/<lock token>`) and when. So this says who finished each event, and a key completed twice would show here twice.
 */
export async function readLedgerRounds(mongoUrl: string, dbName: string): Promise<LedgerRounds> {
  const client = await MongoClient.connect(mongoUrl, { serverSelectionTimeoutMS: 5000 });
  try {
    const rounds = client.db(dbName).collection<Completion | { kind: 'claim' }>(Collections.ledgerRounds);
    const [completions, takeovers] = await Promise.all([
      rounds.find({ kind: { $in: ['routed', 'dead'] } }, { projection: { _id: 0, key: 1, kind: 1, owner: 1, at: 1 } }).toArray(),
      rounds.countDocuments({ kind: 'claim' }),
    ]);
    return { completions: completions as Completion[], takeovers };
  } finally {
    await client.close();
  }
}

/** The worker of a lease owner: owners are `<workerId>/<BullMQ lock token>`, one per attempt. */
export function workerOfOwner(owner: string): string {
  const slash = owner.indexOf('/');
  return slash < 0 ? owner : owner.slice(0, slash);
}

/** How many completions each worker made. */
export function countByWorker(completions: readonly Completion[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { owner } of completions) counts.set(workerOfOwner(owner), (counts.get(workerOfOwner(owner)) ?? 0) + 1);
  return counts;
}

/** Keys completed more than once (should be none: a round is taken once). */
export function completedTwice(completions: readonly Completion[]): string[] {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const { key } of completions) {
    if (seen.has(key)) twice.add(key);
    seen.add(key);
  }
  return [...twice];
}
