import type { RedisClient } from '../queue/redis';

/** The scope of a pause of the whole gateway; any other scope is a source's name. */
export const ALL_SOURCES = '*';

/** How long a held event waits before it is looked at again (a fifth more at most, spread). */
export const HOLD_MS = 5000;

/** A pause as it is kept in Redis and shown to operators. */
export interface Pause {
  /** `*` for every source, else the source's name. */
  scope: string;
  /** ISO time the pause began. */
  since: string;
  /** The key id of the operator who paused, or null (a function invoked with AWS credentials). */
  by: string | null;
  reason: string;
}

export interface PauseView extends Pause {
  /** Events a worker found paused and holds until the pause ends (see {@link PauseStore.hold}). */
  held: number;
}

/** The Redis hash of the pauses in force: field = scope, value = the pause as JSON. */
export function pausesKey(prefix: string): string {
  return `${prefix}:pauses`;
}

function heldKey(prefix: string, scope: string): string {
  return `${prefix}:held:${scope}`;
}

/**
 * Pauses kept in Redis, beside the queue, so they outlive every worker process and deploy: a
 * worker that starts during a pause reads it before it routes anything.
 *
 * Why not BullMQ's `queue.pause()`: it stops the whole queue, and one source cannot be paused
 * with it. Instead a worker that takes up an event of a paused scope puts it back in the queue's
 * delayed set for {@link HOLD_MS} (BullMQ's `moveToDelayed`, which uses no attempt), without
 * claiming it in the ledger, and counts it in a sorted set of the scope. The event comes back
 * every few seconds until the pause ends; then it is routed as usual. Nothing is taken out of
 * the queue, so a worker killed at any point leaves the event where BullMQ finds it again.
 *
 * @example
 * await pauses.pause('dhl', { by: keyIdOf(key), reason: 'routing maintenance' });
 */
export class PauseStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  /** Pauses `scope`; an existing pause of it is kept as it was (its start and author). */
  async pause(scope: string, who: { by: string | null; reason: string }): Promise<Pause> {
    const pause: Pause = { scope, since: new Date().toISOString(), by: who.by, reason: who.reason };
    const created = await this.redis.hsetnx(pausesKey(this.prefix), scope, JSON.stringify(pause));
    if (created) return pause;
    return (await this.read())[scope] ?? pause;
  }

  /** Ends the pause of `scope`; returns it, or null when it was not paused. Its held events drain within {@link HOLD_MS}. */
  async resume(scope: string): Promise<Pause | null> {
    const pause = (await this.read())[scope] ?? null;
    await this.redis.multi().hdel(pausesKey(this.prefix), scope).del(heldKey(this.prefix, scope)).exec();
    return pause;
  }

  /** Every pause in force, by scope. */
  async read(): Promise<Record<string, Pause>> {
    const fields = await this.redis.hgetall(pausesKey(this.prefix));
    const pauses: Record<string, Pause> = {};
    for (const [scope, value] of Object.entries(fields)) {
      try {
        pauses[scope] = JSON.parse(value) as Pause;
      } catch {
        pauses[scope] = { scope, since: '', by: null, reason: '(unreadable)' };
      }
    }
    return pauses;
  }

  /** Every pause in force, with how many events each holds. */
  async list(): Promise<PauseView[]> {
    const pauses = Object.values(await this.read());
    const held = await Promise.all(pauses.map((pause) => this.redis.zcard(heldKey(this.prefix, pause.scope))));
    return pauses.map((pause, i) => ({ ...pause, held: held[i] ?? 0 })).sort((a, b) => a.scope.localeCompare(b.scope));
  }

  /** Counts `jobId` among the events `scope` holds (once, however often it comes back). */
  async hold(scope: string, jobId: string): Promise<void> {
    await this.redis.zadd(heldKey(this.prefix, scope), Date.now(), jobId);
  }
}

/**
 * The scope that holds events of `source` under `pauses` (`*` first), or undefined.
 *
 * @example
 * pausedScope(await store.read(), 'dhl'); // 'dhl' while dhl is paused, '*' while everything is
 */
export function pausedScope(pauses: Record<string, Pause>, source: string): string | undefined {
  if (pauses[ALL_SOURCES]) return ALL_SOURCES;
  return pauses[source] ? source : undefined;
}
