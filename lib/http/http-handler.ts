import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { correlationIds } from './correlation';
import { errorReplies } from './error-replies';
import type { HttpReply } from './reply';
import { replyMetrics, type ReplyMetricsOptions } from './reply-metrics';

export type HttpEvent = APIGatewayProxyEventV2;

/**
 * The Middy chain every HTTP function shares: Lambda context on the logs, lower-case headers,
 * a correlation id on every log line and reply, and errors turned into replies in one place.
 * With `metrics`, replies are also counted by status code (EMF). A function adds its own
 * middlewares (signature check, body parser) with `.use()`.
 */
export function httpHandler(
  logger: Logger,
  handler: (event: HttpEvent, context: Context) => Promise<HttpReply>,
  options: { metrics?: ReplyMetricsOptions } = {},
) {
  // Lambda enforces the timeout itself; Middy's early-timeout timer would cost a setTimeout per request.
  const chain = middy<HttpEvent, HttpReply>({ timeoutEarlyInMillis: 0 })
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(httpHeaderNormalizer())
    .use(correlationIds({ logger }));
  // Registered before the error replies, so its onError sees the reply they made.
  if (options.metrics) chain.use(replyMetrics(options.metrics));
  return chain.use(errorReplies({ logger })).handler(handler);
}
