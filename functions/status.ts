import { statusConfig } from '../lib/config';
import { EventNotFoundError } from '../lib/errors';
import { httpHandler } from '../lib/http/http-handler';
import { jsonReply } from '../lib/http/reply';
import { requireApiKey } from '../lib/http/require-api-key';
import { sharedDb, sharedEventQueue } from '../lib/infrastructure';
import { MongoLedger } from '../lib/ledger/ledger';
import { createLogger } from '../lib/logger';
import { sharedSecrets, statusRouteKeys } from '../lib/secrets/shared-secrets';
import { getEventStatus } from '../lib/status/event-status';

const logger = createLogger('status');
const secrets = sharedSecrets();

/**
 * GET /v1/events/{eventId}: where the event is in its life. An event's state and routing
 * decision are for its producer and the operators: an operator or status key is required,
 * unless STATUS_ROUTE_OPEN=true (the dev stage).
 */
export const handler = httpHandler(logger, async (event) => {
  const eventId = event.pathParameters?.eventId;
  if (!eventId) throw new EventNotFoundError('');
  const view = await getEventStatus(eventId, { ledger: new MongoLedger(await sharedDb()), queue: await sharedEventQueue() });
  return jsonReply(200, view);
});

if (!statusConfig().routeOpen) handler.use(requireApiKey({ keys: statusRouteKeys(secrets) }));
