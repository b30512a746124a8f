import { EventNotFoundError } from '../lib/errors';
import { httpHandler } from '../lib/http/http-handler';
import { jsonReply } from '../lib/http/reply';
import { sharedDb, sharedEventQueue } from '../lib/infrastructure';
import { MongoLedger } from '../lib/ledger/ledger';
import { createLogger } from '../lib/logger';
import { getEventStatus } from '../lib/status/event-status';

const logger = createLogger('status');

/** GET /v1/events/{eventId}: where the event is in its life. */
export const handler = httpHandler(logger, async (event) => {
  const eventId = event.pathParameters?.eventId;
  if (!eventId) throw new EventNotFoundError('');
  const view = await getEventStatus(eventId, { ledger: new MongoLedger(await sharedDb()), queue: sharedEventQueue() });
  return jsonReply(200, view);
});
