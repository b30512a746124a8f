import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { invocationConfig } from '../lib/config';
import { closeShared } from '../lib/infrastructure';
import { rerouteAsOperator } from '../lib/ops/operator-actions';
import type { ConfirmedReply, DryRunReply } from '../lib/reroutes/reroute';
import { parseRerouteRequest } from '../lib/reroutes/reroute-request';

const logger = new Logger({ serviceName: 'reroute' });

/**
 * Operator function, no HTTP route: re-routes ROUTED and DEAD_LETTERED events.
 * `npx serverless invoke local -f reroute --data '{"requestId":"r-1","reason":"...","filter":{"from":"...","to":"..."}}'`
 * Takes the same body as `POST /v1/ops/reroutes` (a dry run unless `"confirm": true`), and is
 * recorded in the audit trail likewise.
 */
export const handler = middy<unknown, DryRunReply | ConfirmedReply>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async (input) => {
    const request = parseRerouteRequest(input);
    try {
      // Invoked with AWS credentials (or locally), not an operator key: IAM's records say who.
      const outcome = await rerouteAsOperator(request, { keyId: null, via: 'function reroute' });
      logger.info('re-route', { requestId: request.requestId, outcome: outcome.kind, matched: outcome.reply.matched });
      return outcome.reply;
    } finally {
      // `invoke local` exits only once every socket is closed; a warm Lambda keeps its clients for the next invocation.
      if (invocationConfig().invokedLocally) await closeShared();
    }
  });
