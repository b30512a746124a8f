/**
 * The SSM parameters a cloud stage keeps its secrets in, under its SECRETS_PATH
 * (`/courier-event-gateway/<stage>`). Each is a SecureString holding the value of the
 * environment variable of the same name, in the same format. serverless.yml's IAM statement must
 * allow `ssm:GetParameters` on every one of them, optional ones included: the gateway reads them
 * in one GetParameters call, which AWS refuses as a whole if one name is not allowed.
 */
export const SECRET_PARAMETERS = [
  { name: 'WEBHOOK_SECRETS', required: true },
  { name: 'OPS_API_KEYS', required: true },
  { name: 'REDIS_URL', required: true },
  { name: 'MONGO_URL', required: true },
  /** Absent: no per-source route accepts anything. */
  { name: 'SOURCE_SECRETS', required: false },
  /** Absent: only operator keys open the status route. */
  { name: 'STATUS_API_KEYS', required: false },
] as const;

export type SecretName = (typeof SECRET_PARAMETERS)[number]['name'];

/** Every secret: what `/ready` checks. */
export const ALL_SECRETS: readonly SecretName[] = SECRET_PARAMETERS.map((parameter) => parameter.name);

/**
 * The full name of a secret's parameter.
 *
 * @example
 * parameterName('/courier-event-gateway/prod', 'WEBHOOK_SECRETS'); // '/courier-event-gateway/prod/WEBHOOK_SECRETS'
 */
export function parameterName(path: string, name: SecretName): string {
  return `${path}/${name}`;
}
