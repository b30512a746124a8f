import httpJsonBodyParser from '@middy/http-json-body-parser';
import { ingestConfig } from '../lib/config';
import { correlationIdOf } from '../lib/http/correlation';
import { httpHandler } from '../lib/http/http-handler';
import { jsonReply } from '../lib/http/reply';
import { verifySignedBody, withoutPrototypeKeys, type SignedRequestContext } from '../lib/http/verify-signed-body';
import { sharedEventQueue } from '../lib/infrastructure';
import { acceptEvent } from '../lib/ingest/accept-event';
import { BacklogGuard } from '../lib/ingest/backlog-guard';
import { createLogger } from '../lib/logger';

const logger = createLogger('ingest');
const config = ingestConfig();
let deps: { queue: ReturnType<typeof sharedEventQueue>; backlog: BacklogGuard } | undefined;

function dependencies() {
  if (!deps) {
    const queue = sharedEventQueue();
    const backlog = new BacklogGuard({
      maxBacklog: config.maxBacklog,
      cacheMs: config.backlogCacheMs,
      retryAfterSeconds: config.backlogRetryAfterSeconds,
      readBacklog: () => queue.backlog(),
    });
    deps = { queue, backlog };
  }
  return deps;
}

/**
 * POST /v1/events and POST /v1/sources/{source}/events: a signed event in, 202 once it is
 * durably queued. No Mongo, no waiting on processing.
 */
export const handler = httpHandler(logger, async (event, context) => {
  const verified = (context as SignedRequestContext).verifiedRequest;
  const receipt = await acceptEvent(
    {
      body: event.body,
      correlationId: correlationIdOf(event),
      receivedAt: new Date(),
      routeSource: verified?.routeSource,
      defaultIdempotencyKey: verified?.webhookId,
    },
    { ...dependencies(), enqueueTimeoutMs: config.enqueueTimeoutMs },
  );
  logger.info(receipt.duplicate ? 'duplicate absorbed' : 'event accepted', {
    eventId: receipt.eventId,
    idempotencyKey: receipt.idempotencyKey,
    scheme: verified?.scheme,
  });
  return jsonReply(202, receipt);
}, { metrics: { namespace: 'CourierEventGateway', serviceName: 'ingest', flushIntervalMs: config.metricsFlushMs } })
  .use(verifySignedBody(config))
  .use(httpJsonBodyParser({ reviver: withoutPrototypeKeys }));
