import { z } from 'zod';
import { ValidationError } from '../lib/errors';
import { httpHandler } from '../lib/http/http-handler';
import { jsonReply } from '../lib/http/reply';
import { requireApiKey } from '../lib/http/require-api-key';
import { createLogger } from '../lib/logger';
import { queryIssues } from '../lib/ops/event-search-query';
import { sharedAuditTrail } from '../lib/ops/operator-actions';
import { operatorKeys, sharedSecrets } from '../lib/secrets/shared-secrets';

const logger = createLogger('ops-audit');
const secrets = sharedSecrets();

const query = z.strictObject({
  action: z.string().trim().min(1).max(64).optional(),
  keyId: z
    .string()
    .regex(/^[0-9a-f]{8}$/, "the first 8 hex digits of the key's SHA-256")
    .optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().min(1).optional(),
});

/** GET /v1/ops/audit: who did what through the operator routes and functions, newest first (API key). */
export const handler = httpHandler(logger, async (event) => {
  const parsed = query.safeParse(event.queryStringParameters ?? {});
  if (!parsed.success) throw new ValidationError(queryIssues(parsed.error), { message: 'the query is not valid' });
  const { limit, cursor, from, to, ...filter } = parsed.data;
  const page = await (
    await sharedAuditTrail()
  ).list(
    { ...filter, ...(from ? { from: new Date(from) } : {}), ...(to ? { to: new Date(to) } : {}) },
    { limit, ...(cursor ? { cursor } : {}) },
  );
  return jsonReply(200, page);
}).use(requireApiKey({ keys: operatorKeys(secrets) }));
