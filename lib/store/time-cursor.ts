import { ValidationError } from '../errors';

/**
 * A page cursor over a collection sorted by a time and then `_id`: the last item's time and id,
 * as opaque base64url text. Anything else given back is a 400 naming the `cursor` field.
 *
 * @example
 * const cursor = encodeTimeCursor(last.receivedAt, last._id);
 * const [at, id] = decodeTimeCursor(cursor);
 */
export function encodeTimeCursor(at: Date, id: string): string {
  return Buffer.from(JSON.stringify([at.toISOString(), id])).toString('base64url');
}

/** The time and id of a cursor this API returned; a ValidationError for anything else. */
export function decodeTimeCursor(cursor: string): [Date, string] {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    const date = new Date(at);
    if (Number.isNaN(date.getTime()) || typeof id !== 'string') throw new Error('bad cursor');
    return [date, id];
  } catch (error) {
    throw new ValidationError([{ path: 'cursor', message: 'not a cursor this API returned' }], { cause: error });
  }
}
