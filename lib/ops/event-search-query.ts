import { z } from 'zod';
import { ValidationError, type FieldIssue } from '../errors';
import { EventStatus } from '../events/status';
import type { EventSearchFilter } from './event-search';

/** The longest received-at window one search may cover. */
export const MAX_SEARCH_WINDOW_DAYS = 31;
const DAY_MS = 24 * 3600 * 1000;

const id = z.string().trim().min(1).max(128);

const querySchema = z
  .strictObject({
    shipmentId: id.optional(),
    orderId: id.optional(),
    source: id.optional(),
    eventType: id.optional(),
    status: z.enum(Object.values(EventStatus) as [EventStatus, ...EventStatus[]]).optional(),
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z.string().min(1).optional(),
  })
  .transform((query, ctx) => {
    const from = query.from ? new Date(query.from) : undefined;
    const to = query.to ? new Date(query.to) : undefined;
    if (from && to && from > to) ctx.addIssue({ code: 'custom', path: ['from'], message: 'is after `to`' });
    const span = from ? (to ?? new Date()).getTime() - from.getTime() : 0;
    if (span > MAX_SEARCH_WINDOW_DAYS * DAY_MS) {
      ctx.addIssue({ code: 'custom', path: ['from'], message: `the window is longer than ${MAX_SEARCH_WINDOW_DAYS} days` });
    }
    const { limit, cursor, shipmentId, orderId, source, eventType, status } = query;
    const filter: EventSearchFilter = Object.fromEntries(
      Object.entries({ shipmentId, orderId, source, eventType, status, from, to }).filter(([, value]) => value !== undefined),
    );
    return { filter, page: { limit, ...(cursor ? { cursor } : {}) } };
  });

/** One issue per field; an unknown field is named itself, not as the query. */
export function queryIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: key, message: 'is not a field of this route' }))
      : [{ path: issue.path.join('.') || '(query)', message: issue.message }],
  );
}

/**
 * `GET /v1/ops/events`'s query string, checked: an unknown field, a bad value or a window over
 * {@link MAX_SEARCH_WINDOW_DAYS} days is a ValidationError (400) naming the field and why.
 *
 * @example
 * const { filter, page } = parseEventSearchQuery({ shipmentId: 'SHP-4411', limit: '20' });
 */
export function parseEventSearchQuery(query: Record<string, string | undefined>) {
  const parsed = querySchema.safeParse(query);
  if (!parsed.success) {
    throw new ValidationError(queryIssues(parsed.error), { message: 'the query is not valid' });
  }
  return parsed.data;
}
