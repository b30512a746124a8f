import { statusConfig } from '../lib/config';
import { checkReadiness } from '../lib/health/readiness';
import { httpHandler } from '../lib/http/http-handler';
import { jsonReply } from '../lib/http/reply';
import { presentsApiKey } from '../lib/http/require-api-key';
import { sharedDb, sharedRedis } from '../lib/infrastructure';
import { createLogger } from '../lib/logger';
import { sharedPauses } from '../lib/ops/operator-actions';
import { raceTimeout } from '../lib/race-timeout';
import { operatorKeys, sharedSecrets } from '../lib/secrets/shared-secrets';

const logger = createLogger('ready');
const secrets = sharedSecrets();
const detailsOpen = statusConfig().readyDetailsOpen;
const keys = operatorKeys(secrets);
/** As long as a ping may take (lib/health/readiness.ts). */
const PAUSES_TIMEOUT_MS = 1000;

/**
 * GET /ready: 200 when every required secret exists and Redis and Mongo both answer a ping,
 * else 503. Anyone (a load balancer, a probe) gets `{ ready }`; an operator key, or
 * READY_DETAILS_OPEN=true (the dev stage), also gets the checks: the missing secrets by full SSM
 * name and the store that is down, which are not for the public internet, and what operators
 * paused (since when, by whom, how many events it holds).
 */
export const handler = httpHandler(logger, async (event) => {
  const readiness = await checkReadiness({ secrets: () => secrets.get(), redis: () => sharedRedis('producer'), db: sharedDb });
  const status = readiness.ready ? 200 : 503;
  if (detailsOpen || (await presentsApiKey(event.headers, keys))) {
    // What operators paused is not a fault: it leaves `ready` as it is, and shows beside the checks.
    // Bounded like the pings: a Redis that answers nothing must not hold the probe.
    const paused = await raceTimeout(
      sharedPauses().then((pauses) => pauses.list()),
      PAUSES_TIMEOUT_MS,
    ).catch(() => undefined);
    return jsonReply(status, { ...readiness, ...(paused ? { paused } : {}) });
  }
  return jsonReply(status, { ready: readiness.ready });
});
