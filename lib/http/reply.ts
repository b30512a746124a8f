/**
 * The HTTP edge: the only part of lib/ that knows the shape of API Gateway events and replies.
 * Everything below it takes and returns plain values.
 */
export const CORRELATION_HEADER = 'x-correlation-id';

export interface HttpReply {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export function jsonReply(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpReply {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

/** The exact bytes the client sent, whether API Gateway passed them as text or base64. */
export function rawBodyOf(event: { body?: string | null; isBase64Encoded?: boolean }): Buffer {
  if (event.body === undefined || event.body === null) return Buffer.alloc(0);
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
}
