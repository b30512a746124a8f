import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { invocationConfig } from '../lib/config';
import { parseReplayRequest, type ReplayReport } from '../lib/dead-letters/replay';
import { closeShared } from '../lib/infrastructure';
import { replayAsOperator } from '../lib/ops/operator-actions';

const logger = new Logger({ serviceName: 'replay' });

/**
 * Operator function, no HTTP route: moves dead letters back to the main queue.
 * `npx serverless invoke local -f replay --data '{"limit":10,"dryRun":true}'`
 * Takes the same selectors as `POST /v1/ops/dlq/replay` (ids, source, eventType, reason,
 * failedFrom, failedTo, limit, dryRun, ratePerSecond), and is recorded in the audit trail likewise.
 */
export const handler = middy<unknown, ReplayReport>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async (input) => {
    const request = parseReplayRequest(input);
    try {
      // Invoked with AWS credentials (or locally), not an operator key: IAM's records say who.
      const report = await replayAsOperator(request, { keyId: null, via: 'function replay' });
      logger.info('replay finished', { dryRun: report.dryRun, replayed: report.replayed.length, skipped: report.skipped.length });
      return report;
    } finally {
      // `invoke local` exits only once every socket is closed; a warm Lambda keeps its clients for the next invocation.
      if (invocationConfig().invokedLocally) await closeShared();
    }
  });
