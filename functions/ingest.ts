import httpJsonBodyParser from '@middy/http-json-body-parser';
import { ingestConfig } from '../lib/config';
import { acceptEvent } from '../lib/ingest/accept-event';
import { correlationIdOf } from '../lib/http/correlation';
import { httpHandler } from '../lib/http/http-handler';
import { jsonReply } from '../lib/http/reply';
import { verifySignedBody } from '../lib/http/verify-signed-body';
import { sharedConfig, sharedRedis } from '../lib/infrastructure';
import { createLogger } from '../lib/logger';
import { BullEventQueue } from '../lib/queue/event-queue';

const logger = createLogger('ingest');
const config = ingestConfig();
let queue: BullEventQueue | undefined;

/** POST /v1/events: signed event in, 202 once it is durably queued. No Mongo, no waiting on work. */
export const handler = httpHandler(logger, async (event) => {
  queue ??= new BullEventQueue({
    connection: sharedRedis('producer'),
    prefix: sharedConfig().queuePrefix,
    attempts: sharedConfig().jobAttempts,
  });
  const receipt = await acceptEvent(
    { body: event.body, correlationId: correlationIdOf(event), receivedAt: new Date() },
    { queue, enqueueTimeoutMs: config.enqueueTimeoutMs },
  );
  logger.info('event accepted', { eventId: receipt.eventId, idempotencyKey: receipt.idempotencyKey });
  return jsonReply(202, receipt);
})
  .use(verifySignedBody(config))
  .use(httpJsonBodyParser());
