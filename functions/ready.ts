import { checkReadiness } from '../lib/health/readiness';
import { httpHandler } from '../lib/http/http-handler';
import { jsonReply } from '../lib/http/reply';
import { sharedDb, sharedRedis } from '../lib/infrastructure';
import { createLogger } from '../lib/logger';
import { sharedSecrets } from '../lib/secrets/shared-secrets';

const logger = createLogger('ready');
const secrets = sharedSecrets();

/**
 * GET /ready: 200 when every required secret exists and Redis and Mongo both answer a ping,
 * else 503 naming the missing secrets (full SSM parameter names) and the store that is down.
 */
export const handler = httpHandler(logger, async () => {
  const readiness = await checkReadiness({ secrets: () => secrets.get(), redis: () => sharedRedis('producer'), db: sharedDb });
  return jsonReply(readiness.ready ? 200 : 503, readiness);
});
