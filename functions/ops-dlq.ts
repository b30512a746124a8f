import { z } from 'zod';
import { DeadLetterReason, DeadLetterState } from '../lib/dead-letters/dead-letter-store';
import { ValidationError } from '../lib/errors';
import { httpHandler } from '../lib/http/http-handler';
import { jsonReply } from '../lib/http/reply';
import { requireApiKey } from '../lib/http/require-api-key';
import { sharedDeadLetters } from '../lib/infrastructure';
import { createLogger } from '../lib/logger';
import { operatorKeys, sharedSecrets } from '../lib/secrets/shared-secrets';

const logger = createLogger('ops-dlq');
const secrets = sharedSecrets();

const query = z.strictObject({
  ids: z.string().optional(),
  source: z.string().min(1).optional(),
  eventType: z.string().min(1).optional(),
  reason: z.enum(Object.values(DeadLetterReason) as [string, ...string[]]).optional(),
  status: z.enum(Object.values(DeadLetterState) as [string, ...string[]]).optional(),
  failedFrom: z.iso.datetime({ offset: true }).optional(),
  failedTo: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().optional(),
});

/** GET /v1/ops/dlq: dead letters by the replay filters, a page at a time, with counts by reason. */
export const handler = httpHandler(logger, async (event) => {
  const parsed = query.safeParse(event.queryStringParameters ?? {});
  if (!parsed.success) {
    throw new ValidationError(parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })));
  }
  const { ids, limit, cursor, failedFrom, failedTo, ...rest } = parsed.data;
  const filter = {
    ...(rest as { source?: string; eventType?: string; reason?: DeadLetterReason; status?: DeadLetterState }),
    ...(ids
      ? {
          eventIds: ids
            .split(',')
            .map((id) => id.trim())
            .filter(Boolean),
        }
      : {}),
    ...(failedFrom ? { failedFrom: new Date(failedFrom) } : {}),
    ...(failedTo ? { failedTo: new Date(failedTo) } : {}),
  };
  const store = await sharedDeadLetters();
  const [page, countsByReason] = await Promise.all([
    store.list(filter, { limit, ...(cursor ? { cursor } : {}) }),
    store.countByReason(filter),
  ]);
  return jsonReply(200, { ...page, countsByReason });
}).use(requireApiKey({ keys: operatorKeys(secrets) }));
