import httpJsonBodyParser from '@middy/http-json-body-parser';
import { opsConfig } from '../lib/config';
import { parseReplayRequest, replayDeadLetters } from '../lib/dead-letters/replay';
import { httpHandler } from '../lib/http/http-handler';
import { jsonReply } from '../lib/http/reply';
import { requireApiKey } from '../lib/http/require-api-key';
import { withoutPrototypeKeys } from '../lib/http/verify-signed-body';
import { sharedDb, sharedDeadLetters, sharedEventQueue } from '../lib/infrastructure';
import { MongoLedger } from '../lib/ledger/ledger';
import { createLogger } from '../lib/logger';
import { operatorKeys, sharedSecrets } from '../lib/secrets/shared-secrets';

const logger = createLogger('ops-replay');
const config = opsConfig();
const secrets = sharedSecrets();

/** POST /v1/ops/dlq/replay: the same replay as the `replay` function, over HTTP. */
export const handler = httpHandler(logger, async (event) => {
  const request = parseReplayRequest(event.body ?? {});
  const db = await sharedDb();
  const report = await replayDeadLetters(request, {
    deadLetters: await sharedDeadLetters(),
    events: await sharedEventQueue(),
    ledger: new MongoLedger(db),
    defaultRatePerSecond: config.replayRatePerSecond,
  });
  logger.info('replay finished', { dryRun: report.dryRun, replayed: report.replayed.length, skipped: report.skipped.length });
  return jsonReply(200, report);
})
  .use(requireApiKey({ keys: operatorKeys(secrets) }))
  .use(httpJsonBodyParser({ reviver: withoutPrototypeKeys }));
