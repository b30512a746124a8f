import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ValidationError, type FieldIssue } from '../errors';
import { canonicalJson } from '../events/payload-hash';
import { EventStatus } from '../events/status';

/** The longest received-at window one re-route may cover. */
export const MAX_REROUTE_WINDOW_HOURS = 24;
/** The most events one re-route may select: a filter that matches more is refused, to be narrowed. */
export const MAX_REROUTE_EVENTS = 1000;
/** The highest pace a re-route may ask for, events per second. */
export const MAX_REROUTE_RATE_PER_SECOND = 1000;

/** The statuses a re-route selects: an event still under way is left to its own round. */
export const REROUTABLE_STATUSES = [EventStatus.ROUTED, EventStatus.DEAD_LETTERED] as const;

const HOUR_MS = 3600 * 1000;
const field = z.string().trim().min(1).max(128);

const filterSchema = z
  .strictObject({
    from: z.iso.datetime({ offset: true }),
    to: z.iso.datetime({ offset: true }),
    source: field.optional(),
    eventType: field.optional(),
    shipmentId: field.optional(),
    orderId: field.optional(),
    status: z.enum(REROUTABLE_STATUSES).optional(),
  })
  .superRefine((filter, ctx) => {
    const span = new Date(filter.to).getTime() - new Date(filter.from).getTime();
    if (span < 0) ctx.addIssue({ code: 'custom', path: ['from'], message: 'is after `to`' });
    if (span > MAX_REROUTE_WINDOW_HOURS * HOUR_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['to'],
        message: `the window from \`from\` to \`to\` is longer than ${MAX_REROUTE_WINDOW_HOURS} hours`,
      });
    }
  });

/**
 * What an operator asks a re-route for, the same over `POST /v1/ops/reroutes` and from
 * `serverless invoke local -f reroute --data`: a selection (ids, or a filter with a window),
 * why, and whether to do it (`confirm`; without it, a dry run).
 */
export const rerouteRequestSchema = z
  .strictObject({
    /** The idempotency key: the same request sent twice re-routes once. */
    requestId: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[^\s/]+$/, 'no spaces or slashes (it is part of the status URL)'),
    reason: z.string().trim().min(1, "say why (it is recorded in each event's history)").max(500),
    ids: z.array(field).min(1).max(MAX_REROUTE_EVENTS).optional(),
    filter: filterSchema.optional(),
    confirm: z.boolean().default(false),
    /** Events per second handed to the workers; defaults to REPLAY_RATE_PER_SECOND. */
    ratePerSecond: z.number().positive().max(MAX_REROUTE_RATE_PER_SECOND).optional(),
  })
  .superRefine((request, ctx) => {
    if (!request.ids && !request.filter) {
      ctx.addIssue({
        code: 'custom',
        path: ['filter'],
        message: 'give a filter (with its `from`-`to` window) or `ids`: a re-route needs a selection',
      });
    }
    if (request.ids && request.filter) ctx.addIssue({ code: 'custom', path: ['ids'], message: 'give either `ids` or `filter`, not both' });
  });

export type RerouteRequestInput = z.input<typeof rerouteRequestSchema>;
export type RerouteRequest = z.output<typeof rerouteRequestSchema>;

/** One issue per field, nested fields by their path (`filter.to`); an unknown field is named itself. */
function requestIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: [...issue.path, key].join('.'), message: 'is not a field of this request' }))
      : [{ path: issue.path.join('.') || '(body)', message: issue.message }],
  );
}

/**
 * Parses a re-route request: an unknown field, a bad value, a window over
 * {@link MAX_REROUTE_WINDOW_HOURS} hours, or neither ids nor a filter is a ValidationError (400)
 * naming the field and why.
 *
 * @example
 * parseRerouteRequest({ requestId: 'r-1', reason: 'hub AMS-1 closed', filter: { from, to, source: 'dhl' } });
 */
export function parseRerouteRequest(input: unknown): RerouteRequest {
  const parsed = rerouteRequestSchema.safeParse(input ?? {});
  if (!parsed.success) throw new ValidationError(requestIssues(parsed.error), { message: 'the re-route request is not valid' });
  return parsed.data;
}

/**
 * What makes two requests with one request id the same request: everything but the id and
 * `confirm` (the dry run and its confirmation carry one id), as parsed, in a canonical form.
 */
export function rerouteFingerprint(request: RerouteRequest): string {
  const { requestId: _id, confirm: _confirm, ...asked } = request;
  return createHash('sha256').update(canonicalJson(asked)).digest('hex');
}
