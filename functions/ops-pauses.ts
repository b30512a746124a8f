import httpJsonBodyParser from '@middy/http-json-body-parser';
import { z } from 'zod';
import { ValidationError } from '../lib/errors';
import { httpHandler } from '../lib/http/http-handler';
import { jsonReply } from '../lib/http/reply';
import { presentedKey, requireApiKey } from '../lib/http/require-api-key';
import { withoutPrototypeKeys } from '../lib/http/verify-signed-body';
import { createLogger } from '../lib/logger';
import { keyIdOf } from '../lib/ops/audit-trail';
import { queryIssues } from '../lib/ops/event-search-query';
import { pauseAsOperator, resumeAsOperator, sharedPauses } from '../lib/ops/operator-actions';
import { operatorKeys, sharedSecrets } from '../lib/secrets/shared-secrets';

const logger = createLogger('ops-pauses');
const secrets = sharedSecrets();

const source = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,64}$/, 'a source name: letters, digits, . _ and -')
  .optional();
const pauseBody = z.strictObject({ source, reason: z.string().trim().min(1, 'say why (it is shown beside the pause)').max(500) });
const resumeBody = z.strictObject({ source, reason: z.string().trim().max(500).optional() });

function parse<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) throw new ValidationError(queryIssues(parsed.error), { message: 'the request is not valid' });
  return parsed.data;
}

/**
 * The operators' pauses (API key): `GET /v1/ops/pauses` lists them with the events each holds;
 * `POST /v1/ops/pauses` `{ source?, reason }` pauses one source (every source without one);
 * `POST /v1/ops/pauses/resume` `{ source? }` ends it, and the held events drain. Events of a
 * paused source are still accepted (202) and held without using attempts.
 */
export const handler = httpHandler(logger, async (event) => {
  const route = `${event.requestContext.http.method} ${event.rawPath}`;
  if (route === 'GET /v1/ops/pauses') return jsonReply(200, { pauses: await (await sharedPauses()).list() });
  const key = presentedKey(event.headers);
  const operator = { keyId: key ? keyIdOf(key) : null, via: route };
  if (route === 'POST /v1/ops/pauses/resume') return jsonReply(200, await resumeAsOperator(parse(resumeBody, event.body), operator));
  return jsonReply(200, { paused: await pauseAsOperator(parse(pauseBody, event.body), operator) });
})
  .use(requireApiKey({ keys: operatorKeys(secrets) }))
  .use(httpJsonBodyParser({ reviver: withoutPrototypeKeys, disableContentTypeError: true }));
