import { setTimeout as sleep } from 'node:timers/promises';
import type { Collection, Db, Filter } from 'mongodb';
import { ShipmentContentionError } from '../errors';
import type { ShipmentEvent } from '../events/schema';
import type { RoutingDecision } from '../routing/routing-decision';
import { ExclusiveSteps, stepId } from '../store/exclusive-step';
import { Collections, insertIfAbsent, trimToNewest } from '../store/mongo';

/** How many applied events a shipment remembers. */
export const SHIPMENT_HISTORY_LIMIT = 50;

export interface AppliedEvent {
  eventId: string;
  eventType: string;
  status: string;
  occurredAt: Date;
  appliedAt: Date;
  /** The routing round that applied it: absent for the original processing (round 1), 2 or more for a re-route. */
  round?: number;
}

export interface ShipmentState {
  _id: string;
  orderId?: string;
  status: string;
  lastEventId: string;
  lastEventAt: Date;
  route?: RoutingDecision;
  history: AppliedEvent[];
  updatedAt: Date;
  /** 1 when created, one more for every applied event; each step is taken with a unique insert. */
  version: number;
  /**
   * The event that created the shipment. Version 1 has no version record, and the history is
   * trimmed: with this, every application stays on record (see `readApplications`).
   */
  firstEventId: string;
}

/** What applying one event changes: absolute values and a set member, so applying it twice is harmless. */
interface ShipmentChange {
  set: Omit<ShipmentState, '_id' | 'history' | 'firstEventId'>;
  applied: AppliedEvent;
}

/** The record of one taken version of a shipment, with the change, so it can be finished if its taker died. */
interface VersionRecord {
  _id: string;
  shipmentId: string;
  version: number;
  at: Date;
  change: ShipmentChange;
}

export interface ShipmentStoreOptions {
  /** How long a taken version may stay unwritten before another worker writes it (its taker died). */
  abandonedAfterMs?: number;
  /** How many times an apply waits for, or follows, a concurrent change before it gives up (and is retried). */
  maxPasses?: number;
  /** The clock versions are stamped and judged abandoned by, in epoch milliseconds. Default: Date.now. */
  now?: () => number;
}

/** What applying an event did to the shipment. */
export type ApplyOutcome = 'applied' | 'stale' | 'already-applied';

/** Port: shipment and order state. */
export interface ShipmentStore {
  getShipment(shipmentId: string): Promise<ShipmentState | null>;
  /**
   * Applies a routed event. `current` is the state read before routing when the caller has it
   * (null: the shipment did not exist); it only saves work, the write stays guarded. `round` is
   * the event's routing round: 1 (the default) for its original processing, more for a re-route.
   */
  applyEvent(event: ShipmentEvent, route: RoutingDecision, current?: ShipmentState | null, round?: number): Promise<ApplyOutcome>;
}

/**
 * What applying routing round `round` of an event does to a shipment, decided from the state
 * alone: `advance` (the event becomes the shipment's latest: status, route, history), `reroute`
 * (the event is already the latest: a new version with the new route, the status unchanged), or
 * no change: `already-applied` (this event, this round, is in the history) or `stale` (older
 * than what the shipment shows: the shipment never goes back in time, whatever the round).
 *
 * @example
 * decideApplication(shipment, { eventId: 'e1', occurredAt: new Date('2026-01-01') }, 2); // 'stale' when e2 is newer
 */
export function decideApplication(
  state: Pick<ShipmentState, 'history' | 'lastEventId' | 'lastEventAt'>,
  event: { eventId: string; occurredAt: Date },
  round = 1,
): 'advance' | 'reroute' | ApplyOutcome {
  const applied = state.history.filter((entry) => entry.eventId === event.eventId);
  if (applied.some((entry) => (entry.round ?? 1) >= round)) return 'already-applied';
  if (round > 1 && state.lastEventId === event.eventId) return 'reroute';
  // A round after the first that was never applied (its event was dead-lettered) applies as the first would.
  if (applied.length > 0) return round > 1 ? 'stale' : 'already-applied';
  if (state.lastEventAt && state.lastEventAt.getTime() >= event.occurredAt.getTime()) return 'stale';
  return 'advance';
}

/**
 * The MongoDB adapter of {@link ShipmentStore}.
 *
 * A shipment is created with a plain insert and changed one version at a time: the writer takes
 * the next version with a unique insert (`<version>@<shipmentId>` in the versions collection),
 * then writes the shipment by `_id`. A unique insert is atomic on MongoDB and FerretDB alike, so
 * two events for one shipment never both apply over the same state (FerretDB's conditional
 * updates are not atomic), and every read and write names the shipment by `_id` alone, the one
 * filter FerretDB 1.24 answers from an index.
 */
export class MongoShipmentStore implements ShipmentStore {
  readonly #shipments: Collection<ShipmentState>;
  readonly #versions: ExclusiveSteps<VersionRecord>;
  readonly #abandonedAfterMs: number;
  readonly #maxPasses: number;
  readonly #now: () => number;

  constructor(db: Db, options: ShipmentStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#shipments = db.collection<ShipmentState>(Collections.shipments);
    this.#versions = new ExclusiveSteps(db.collection<VersionRecord>(Collections.shipmentVersions), this.#now);
    this.#abandonedAfterMs = options.abandonedAfterMs ?? 30_000;
    this.#maxPasses = options.maxPasses ?? 50;
  }

  async getShipment(shipmentId: string): Promise<ShipmentState | null> {
    return this.#shipments.findOne({ _id: shipmentId });
  }

  /**
   * Applies the event only if it is newer than what the shipment shows and not already in its
   * history: a replayed, duplicated or late older event can never regress the shipment or be
   * applied twice. `current` is the state read before routing, if the caller has it.
   */
  async applyEvent(event: ShipmentEvent, route: RoutingDecision, current?: ShipmentState | null, round = 1): Promise<ApplyOutcome> {
    const occurredAt = new Date(event.occurredAt);
    const { shipmentId, orderId, status } = event.payload;
    let state = current === undefined ? await this.getShipment(shipmentId) : current;
    for (let pass = 0; pass < this.#maxPasses; pass++) {
      const now = new Date(this.#now());
      const applied: AppliedEvent = {
        eventId: event.eventId,
        eventType: event.eventType,
        status,
        occurredAt,
        appliedAt: now,
        ...(round > 1 ? { round } : {}),
      };
      const fields = {
        status,
        lastEventId: event.eventId,
        lastEventAt: occurredAt,
        route,
        updatedAt: now,
        ...(orderId === undefined ? {} : { orderId }),
      };
      if (state === null) {
        if (
          await insertIfAbsent(this.#shipments, { _id: shipmentId, ...fields, history: [applied], version: 1, firstEventId: event.eventId })
        )
          return 'applied';
        state = await this.getShipment(shipmentId);
        continue;
      }
      const decision = decideApplication(state, { eventId: event.eventId, occurredAt }, round);
      if (decision === 'already-applied' || decision === 'stale') return decision;
      const version = state.version + 1;
      // A re-route of the latest event changes the route alone: status and last event stay as they are.
      const set =
        decision === 'reroute'
          ? { status: state.status, lastEventId: state.lastEventId, lastEventAt: state.lastEventAt, route, updatedAt: now, version }
          : { ...fields, version };
      const change: ShipmentChange = { set, applied };
      const historyLength = state.history.length + 1;
      const write = () => this.#write({ _id: shipmentId }, change, historyLength);
      if (await this.#versions.take({ _id: stepId(version, shipmentId), shipmentId, version, change }, write)) return 'applied';
      // Another event took this version: wait for its write (or finish it if its writer died),
      // then decide again on the newer state.
      state = await this.#afterLostVersion(shipmentId, version);
    }
    throw new ShipmentContentionError(shipmentId);
  }

  /** Writes a taken version's change; `filter` names the shipment by `_id` (and, for a roll-forward, the version before). */
  async #write(filter: Filter<ShipmentState> & { _id: string }, change: ShipmentChange, historyLength: number): Promise<void> {
    await this.#shipments.updateOne(filter, { $set: change.set, $addToSet: { history: change.applied } });
    if (historyLength > SHIPMENT_HISTORY_LIMIT) await trimToNewest(this.#shipments, { _id: filter._id }, 'history', SHIPMENT_HISTORY_LIMIT);
  }

  /** The state to decide on after losing `version` to another writer. */
  async #afterLostVersion(shipmentId: string, version: number): Promise<ShipmentState | null> {
    const state = await this.getShipment(shipmentId);
    if (state !== null && state.version >= version) return state;
    // If its writer died between taking the version and writing it, write it for them, only over
    // the version before (a lost version is 2 or more: version 1 is the shipment's insert); else
    // give it time to write.
    const found = await this.#versions.rollForward(
      stepId(version, shipmentId),
      (record) => this.#write({ _id: shipmentId, version: version - 1 }, record.change, (state?.history.length ?? 0) + 1),
      this.#abandonedAfterMs,
    );
    if (found !== 'rolled-forward') await sleep(20);
    return this.getShipment(shipmentId);
  }
}
