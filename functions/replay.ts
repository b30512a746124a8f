import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { z } from 'zod';
import { DeadLetterStore } from '../lib/dead-letters/dead-letter-store';
import { replayDeadLetters, type ReplayReport } from '../lib/dead-letters/replay';
import { closeShared, sharedConfig, sharedDb, sharedEventQueue, sharedRedis } from '../lib/infrastructure';
import { MongoLedger } from '../lib/ledger/ledger';

const logger = new Logger({ serviceName: 'replay' });

const replayInput = z.object({
  limit: z.coerce.number().int().min(1).max(10_000).default(100),
  dryRun: z.boolean().default(false),
});

/**
 * Operator function, no HTTP route: moves dead letters back to the main queue.
 * `npx serverless invoke local -f replay --data '{"limit":10,"dryRun":true}'`
 */
export const handler = middy<unknown, ReplayReport>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async (input) => {
    const request = replayInput.parse(input ?? {});
    const config = sharedConfig();
    const redis = sharedRedis('producer');
    const db = await sharedDb();
    const deadLetters = new DeadLetterStore(db, redis, config.queuePrefix);
    try {
      const report = await replayDeadLetters(request, { deadLetters, events: sharedEventQueue(), ledger: new MongoLedger(db) });
      logger.info('replay finished', { dryRun: report.dryRun, replayed: report.replayed.length, skipped: report.skipped.length });
      return report;
    } finally {
      await deadLetters.close().catch(() => undefined);
      // `invoke local` should exit when done; a warm Lambda container would reconnect on next use.
      await closeShared();
    }
  });
