import { httpHandler } from '../lib/http/http-handler';
import { jsonReply } from '../lib/http/reply';
import { requireApiKey } from '../lib/http/require-api-key';
import { sharedDb, sharedDeadLetters, sharedEventQueue } from '../lib/infrastructure';
import { MongoLedger } from '../lib/ledger/ledger';
import { createLogger } from '../lib/logger';
import { gatewayStats } from '../lib/ops/stats';
import { operatorKeys, sharedSecrets } from '../lib/secrets/shared-secrets';

const logger = createLogger('ops-stats');
const secrets = sharedSecrets();

/** GET /v1/ops/stats: queue counts by state, dead letters, ledger counts, oldest waiting event. */
export const handler = httpHandler(logger, async () => {
  const db = await sharedDb();
  const stats = await gatewayStats({
    events: (await sharedEventQueue()).queue,
    deadLetters: await sharedDeadLetters(),
    ledger: new MongoLedger(db),
  });
  return jsonReply(200, stats);
}).use(requireApiKey({ keys: operatorKeys(secrets) }));
