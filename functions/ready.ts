import { checkReadiness } from '../lib/health/readiness';
import { httpHandler } from '../lib/http/http-handler';
import { jsonReply } from '../lib/http/reply';
import { sharedDb, sharedRedis } from '../lib/infrastructure';
import { createLogger } from '../lib/logger';

const logger = createLogger('ready');

/** GET /ready: 200 when Redis and Mongo both answer a ping, else 503 naming the one that is down. */
export const handler = httpHandler(logger, async () => {
  const readiness = await checkReadiness({ redis: sharedRedis('producer'), db: sharedDb });
  return jsonReply(readiness.ready ? 200 : 503, readiness);
});
