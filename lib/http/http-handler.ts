import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { correlationIds } from './correlation';
import { errorReplies } from './error-replies';
import type { HttpReply } from './reply';

export type HttpEvent = APIGatewayProxyEventV2;

/**
 * The Middy chain every HTTP function shares: Lambda context on the logs, lower-case headers,
 * a correlation id on every log line and reply, and errors turned into replies in one place.
 * A function adds its own middlewares (signature check, body parser) with `.use()`.
 */
export function httpHandler(logger: Logger, handler: (event: HttpEvent, context: Context) => Promise<HttpReply>) {
  // Lambda enforces the timeout itself; Middy's early-timeout timer would cost a setTimeout per request.
  return middy<HttpEvent, HttpReply>({ timeoutEarlyInMillis: 0 })
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(httpHeaderNormalizer())
    .use(correlationIds({ logger }))
    .use(errorReplies({ logger }))
    .handler(handler);
}
