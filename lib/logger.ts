import { Logger } from '@aws-lambda-powertools/logger';

/**
 * Structured JSON logs (Powertools), one logger per process role. The level comes from
 * POWERTOOLS_LOG_LEVEL, read by Powertools itself. Secrets, signatures and raw bodies are
 * never passed to it.
 */
export function createLogger(serviceName: string): Logger {
  return new Logger({ serviceName });
}
