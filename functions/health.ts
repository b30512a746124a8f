import { httpHandler } from '../lib/http/http-handler';
import { jsonReply } from '../lib/http/reply';
import { createLogger } from '../lib/logger';

const logger = createLogger('health');

/** GET /health: the process is alive. Touches no dependency. */
export const handler = httpHandler(logger, () => Promise.resolve(jsonReply(200, { status: 'ok' })));
