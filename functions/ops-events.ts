import { httpHandler } from '../lib/http/http-handler';
import { jsonReply } from '../lib/http/reply';
import { requireApiKey } from '../lib/http/require-api-key';
import { sharedDb } from '../lib/infrastructure';
import { createLogger } from '../lib/logger';
import { EventSearch } from '../lib/ops/event-search';
import { parseEventSearchQuery } from '../lib/ops/event-search-query';
import { operatorKeys, sharedSecrets } from '../lib/secrets/shared-secrets';

const logger = createLogger('ops-events');
const secrets = sharedSecrets();

/** GET /v1/ops/events: any event by shipment, order, source, type, status and received window, newest first (API key). */
export const handler = httpHandler(logger, async (event) => {
  const { filter, page } = parseEventSearchQuery(event.queryStringParameters ?? {});
  return jsonReply(200, await new EventSearch(await sharedDb()).search(filter, page));
}).use(requireApiKey({ keys: operatorKeys(secrets) }));
