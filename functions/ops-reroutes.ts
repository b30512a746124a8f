import httpJsonBodyParser from '@middy/http-json-body-parser';
import { RerouteNotFoundError } from '../lib/errors';
import { httpHandler } from '../lib/http/http-handler';
import { jsonReply } from '../lib/http/reply';
import { presentedKey, requireApiKey } from '../lib/http/require-api-key';
import { withoutPrototypeKeys } from '../lib/http/verify-signed-body';
import { createLogger } from '../lib/logger';
import { keyIdOf } from '../lib/ops/audit-trail';
import { rerouteAsOperator, rerouteProgressOf } from '../lib/ops/operator-actions';
import { parseRerouteRequest } from '../lib/reroutes/reroute-request';
import { operatorKeys, sharedSecrets } from '../lib/secrets/shared-secrets';

const logger = createLogger('ops-reroutes');
const secrets = sharedSecrets();

/**
 * Re-routing ROUTED and DEAD_LETTERED events (API key): `POST /v1/ops/reroutes` runs a dry run
 * (200) or, with `confirm: true`, queues a new routing round for each selected event (202; the
 * same request id again: 200 with its progress); `GET /v1/ops/reroutes/{requestId}` shows its
 * progress. Recorded in the audit trail, like the `reroute` function.
 */
export const handler = httpHandler(logger, async (event) => {
  if (event.requestContext.http.method === 'GET') {
    const requestId = event.pathParameters?.requestId;
    if (!requestId) throw new RerouteNotFoundError('');
    return jsonReply(200, await rerouteProgressOf(requestId));
  }
  const request = parseRerouteRequest(event.body ?? {});
  const key = presentedKey(event.headers);
  const outcome = await rerouteAsOperator(request, { keyId: key ? keyIdOf(key) : null, via: 'POST /v1/ops/reroutes' });
  logger.info('re-route', { requestId: request.requestId, outcome: outcome.kind, matched: outcome.reply.matched });
  return jsonReply(outcome.kind === 'queued' ? 202 : 200, outcome.reply);
})
  .use(requireApiKey({ keys: operatorKeys(secrets) }))
  .use(httpJsonBodyParser({ reviver: withoutPrototypeKeys, disableContentTypeError: true }));
