import httpJsonBodyParser from '@middy/http-json-body-parser';
import { parseReplayRequest } from '../lib/dead-letters/replay';
import { httpHandler } from '../lib/http/http-handler';
import { jsonReply } from '../lib/http/reply';
import { presentedKey, requireApiKey } from '../lib/http/require-api-key';
import { withoutPrototypeKeys } from '../lib/http/verify-signed-body';
import { createLogger } from '../lib/logger';
import { keyIdOf } from '../lib/ops/audit-trail';
import { replayAsOperator } from '../lib/ops/operator-actions';
import { operatorKeys, sharedSecrets } from '../lib/secrets/shared-secrets';

const logger = createLogger('ops-replay');
const secrets = sharedSecrets();

/** POST /v1/ops/dlq/replay: the same replay as the `replay` function, over HTTP, recorded in the audit trail. */
export const handler = httpHandler(logger, async (event) => {
  const request = parseReplayRequest(event.body ?? {});
  const key = presentedKey(event.headers);
  const report = await replayAsOperator(request, { keyId: key ? keyIdOf(key) : null, via: 'POST /v1/ops/dlq/replay' });
  logger.info('replay finished', { dryRun: report.dryRun, replayed: report.replayed.length, skipped: report.skipped.length });
  return jsonReply(200, report);
})
  .use(requireApiKey({ keys: operatorKeys(secrets) }))
  .use(httpJsonBodyParser({ reviver: withoutPrototypeKeys }));
