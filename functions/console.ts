import { operatorConsole } from '../lib/console/assets';
import { staticReply } from '../lib/console/static-reply';
import { httpHandler } from '../lib/http/http-handler';
import { createLogger } from '../lib/logger';

const logger = createLogger('console');

/**
 * GET /ops and GET /ops/{asset}: the operator console, a static page. It holds no data and
 * needs no key: its calls to the operator API carry the key the operator signs in with.
 */
export const handler = httpHandler(logger, (event) =>
  Promise.resolve(staticReply(operatorConsole, event.pathParameters?.asset ?? '', event.headers['if-none-match'])),
);
