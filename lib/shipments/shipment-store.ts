import type { Collection, Db } from 'mongodb';
import type { ShipmentEvent } from '../events/schema';
import type { RoutingDecision } from '../routing/types';
import { Collections, isDuplicateKeyError, trimToNewest } from '../store/mongo';

/** How many applied events a shipment remembers. */
export const SHIPMENT_HISTORY_LIMIT = 50;

export interface AppliedEvent {
  eventId: string;
  eventType: string;
  status: string;
  occurredAt: Date;
  appliedAt: Date;
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
}

/** What applying an event did to the shipment. */
export type ApplyOutcome = 'applied' | 'stale' | 'already-applied';

/** Port: shipment and order state. */
export interface ShipmentStore {
  getShipment(shipmentId: string): Promise<ShipmentState | null>;
  /**
   * Applies a routed event. `current` is the state read before routing when the caller has it
   * (null: the shipment did not exist); it only saves work, the write stays guarded.
   */
  applyEvent(event: ShipmentEvent, route: RoutingDecision, current?: ShipmentState | null): Promise<ApplyOutcome>;
}

/** The MongoDB adapter of {@link ShipmentStore}. */
export class MongoShipmentStore implements ShipmentStore {
  readonly #shipments: Collection<ShipmentState>;

  constructor(db: Db) {
    this.#shipments = db.collection<ShipmentState>(Collections.shipments);
  }

  async getShipment(shipmentId: string): Promise<ShipmentState | null> {
    return this.#shipments.findOne({ _id: shipmentId });
  }

  /**
   * Writes the event's status only if it is newer than what the shipment shows and was not
   * applied before, in one atomic update: a replayed, duplicated or late older event can
   * never regress the shipment or be applied twice. A shipment seen absent is created with a
   * plain insert (unique `_id`), which a concurrent creator turns into the guarded update.
   */
  async applyEvent(event: ShipmentEvent, route: RoutingDecision, current?: ShipmentState | null): Promise<ApplyOutcome> {
    const occurredAt = new Date(event.occurredAt);
    const now = new Date();
    const { shipmentId, orderId, status } = event.payload;
    const fields = {
      status,
      lastEventId: event.eventId,
      lastEventAt: occurredAt,
      route,
      updatedAt: now,
      ...(orderId === undefined ? {} : { orderId }),
    };
    const applied: AppliedEvent = { eventId: event.eventId, eventType: event.eventType, status, occurredAt, appliedAt: now };
    try {
      if (current === null) {
        try {
          await this.#shipments.insertOne({ _id: shipmentId, ...fields, history: [applied] });
          return 'applied';
        } catch (error) {
          if (!isDuplicateKeyError(error)) throw error;
        }
      }
      await this.#shipments.updateOne(
        {
          _id: shipmentId,
          'history.eventId': { $ne: event.eventId },
          $or: [{ lastEventAt: { $lt: occurredAt } }, { lastEventAt: { $exists: false } }],
        },
        { $set: fields, $push: { history: { $each: [applied], $slice: -SHIPMENT_HISTORY_LIMIT } } },
        { upsert: true },
      );
      // The history read before routing was short enough: nothing to trim (a concurrent
      // writer's extra entries are trimmed by the next event that finds the history full).
      if (!current || current.history.length + 1 > SHIPMENT_HISTORY_LIMIT) {
        await trimToNewest(this.#shipments, { _id: shipmentId }, 'history', SHIPMENT_HISTORY_LIMIT);
      }
      return 'applied';
    } catch (error) {
      // The shipment exists but the guard did not match: the event is old or already applied.
      if (!isDuplicateKeyError(error)) throw error;
      const found = await this.#shipments.findOne({ _id: shipmentId, 'history.eventId': event.eventId });
      return found ? 'already-applied' : 'stale';
    }
  }
}
