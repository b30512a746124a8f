import { httpHandler } from '../lib/http/http-handler';
import { jsonReply } from '../lib/http/reply';
import { sharedConfig, sharedDb, sharedRedis } from '../lib/infrastructure';
import { MongoLedger } from '../lib/ledger/ledger';
import { createLogger } from '../lib/logger';
import { BullEventQueue } from '../lib/queue/event-queue';
import { getEventStatus } from '../lib/status/event-status';
import { EventNotFoundError } from '../lib/errors';

const logger = createLogger('status');
let queue: BullEventQueue | undefined;

/** GET /v1/events/{eventId}: where the event is in its life. */
export const handler = httpHandler(logger, async (event) => {
  const eventId = event.pathParameters?.eventId;
  if (!eventId) throw new EventNotFoundError('');
  queue ??= new BullEventQueue({
    connection: sharedRedis('producer'),
    prefix: sharedConfig().queuePrefix,
    attempts: sharedConfig().jobAttempts,
  });
  const view = await getEventStatus(eventId, { ledger: new MongoLedger(await sharedDb()), queue });
  return jsonReply(200, view);
});
