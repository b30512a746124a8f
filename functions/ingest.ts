import httpJsonBodyParser from '@middy/http-json-body-parser';
import { ingestConfig } from '../lib/config';
import { correlationIdOf } from '../lib/http/correlation';
import { httpHandler } from '../lib/http/http-handler';
import { jsonReply } from '../lib/http/reply';
import { verifySignedBody, withoutPrototypeKeys, type SignedRequestContext } from '../lib/http/verify-signed-body';
import { sharedEventQueue } from '../lib/infrastructure';
import { ValidationError } from '../lib/errors';
import { acceptEvent, dryRunEvent } from '../lib/ingest/accept-event';
import { BacklogGuard } from '../lib/ingest/backlog-guard';
import { createLogger } from '../lib/logger';
import type { BullEventQueue } from '../lib/queue/event-queue';
import type { SecretName } from '../lib/secrets/secret-parameters';
import { sharedSecrets } from '../lib/secrets/shared-secrets';

const logger = createLogger('ingest');
const config = ingestConfig();
const secrets = sharedSecrets();
const SIGNING_SECRETS: readonly SecretName[] = ['WEBHOOK_SECRETS'];
let deps: Promise<{ queue: BullEventQueue; backlog: BacklogGuard }> | undefined;

async function dependencies() {
  deps ??= sharedEventQueue().then((queue) => ({
    queue,
    backlog: new BacklogGuard({
      maxBacklog: config.maxBacklog,
      cacheMs: config.backlogCacheMs,
      retryAfterSeconds: config.backlogRetryAfterSeconds,
      readBacklog: () => queue.backlog(),
    }),
  }));
  try {
    return await deps;
  } catch (error) {
    deps = undefined; // a missing REDIS_URL: ask again on the next request
    throw error;
  }
}

// Connect while the function initialises (Lambda's init phase, or the emulator's start), not on
// the first request; a failure here is retried by the first request.
dependencies().catch(() => undefined);

/** `?dryRun=true`: checked as a real request is, nothing queued. Any other value than true or false is a 400. */
function isDryRun(query: Record<string, string | undefined> | undefined): boolean {
  const value = query?.dryRun;
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  throw new ValidationError([{ path: 'dryRun', message: 'must be true or false' }], { message: 'the query is not valid' });
}

/**
 * POST /v1/events and POST /v1/sources/{source}/events: a signed event in, 202 once it is
 * durably queued. No Mongo, no waiting on processing. With `?dryRun=true`, 200 and nothing queued.
 */
export const handler = httpHandler(
  logger,
  async (event, context) => {
    const verified = (context as SignedRequestContext).verifiedRequest;
    const request = {
      body: event.body,
      correlationId: correlationIdOf(event),
      receivedAt: new Date(),
      routeSource: verified?.routeSource,
      defaultIdempotencyKey: verified?.webhookId,
    };
    const dryRun = isDryRun(event.queryStringParameters);
    const deps = { ...(await dependencies()), enqueueTimeoutMs: config.enqueueTimeoutMs };
    if (dryRun) {
      const result = await dryRunEvent(request, deps);
      logger.debug('dry run checked', { eventId: result.eventId, duplicate: result.duplicate, scheme: verified?.scheme });
      return jsonReply(200, result);
    }
    const receipt = await acceptEvent(request, deps);
    logger.info(receipt.duplicate ? 'duplicate absorbed' : 'event accepted', {
      eventId: receipt.eventId,
      idempotencyKey: receipt.idempotencyKey,
      scheme: verified?.scheme,
    });
    return jsonReply(202, receipt);
  },
  { metrics: { namespace: 'CourierEventGateway', serviceName: 'ingest', flushIntervalMs: config.metricsFlushMs } },
)
  .use(verifySignedBody({ ...config, secrets: () => secrets.get(SIGNING_SECRETS) }))
  .use(httpJsonBodyParser({ reviver: withoutPrototypeKeys }));
