import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** Where a value `npm start` shows came from. */
export const SecretOrigin = { GENERATED: 'GENERATED', ENV_FILE: 'ENV_FILE', ENVIRONMENT: 'ENVIRONMENT' } as const;
export type SecretOrigin = (typeof SecretOrigin)[keyof typeof SecretOrigin];

export interface DevSecret {
  variable: 'OPS_API_KEYS' | 'WEBHOOK_SECRETS';
  /** The first of the comma-separated list: the one to use (producers sign with the first secret). */
  value: string;
  /** The variable's whole value, for the processes' environment. */
  list: string;
  origin: SecretOrigin;
}

const GENERATED = {
  OPS_API_KEYS: () => `dev-ops-${randomBytes(16).toString('hex')}`,
  WEBHOOK_SECRETS: () => `dev-signing-${randomBytes(24).toString('hex')}`,
} as const;

const HEADER = '# npm start wrote these on its first run: the local operator key and signing secret. Never commit this file.';

function first(list: string | undefined): string {
  return (list ?? '').split(',')[0]?.trim() ?? '';
}

/** `text` with `variable=value` in place of an empty assignment of it, or appended. */
function withAssignment(text: string, variable: string, value: string): string {
  const empty = new RegExp(`^[ \\t]*(export[ \\t]+)?${variable}[ \\t]*=[ \\t]*(""|'')?[ \\t]*$`, 'm');
  if (empty.test(text)) return text.replace(empty, `${variable}=${value}`);
  const body = text === '' || text.endsWith('\n') ? text : `${text}\n`;
  return `${body}${body.includes(HEADER) ? '' : `${HEADER}\n`}${variable}=${value}\n`;
}

/**
 * The operator key and signing secret of a local run. A variable already set (in the shell or
 * .env) is used as it is; a missing or empty one is generated with crypto.randomBytes and kept
 * in `envFile`, so later starts, `docker compose` (which reads .env too) and the printed
 * commands all use the same values.
 *
 * @param shell the shell's environment, which wins over .env
 * @param fileValues what `envFile` held when the start began
 */
export function ensureDevSecrets(envFile: string, shell: NodeJS.ProcessEnv, fileValues: Record<string, string>): DevSecret[] {
  let text = existsSync(envFile) ? readFileSync(envFile, 'utf8') : '';
  const secrets = (['OPS_API_KEYS', 'WEBHOOK_SECRETS'] as const).map((variable): DevSecret => {
    for (const [list, origin] of [
      [shell[variable], SecretOrigin.ENVIRONMENT],
      [fileValues[variable], SecretOrigin.ENV_FILE],
    ] as const) {
      if (first(list)) return { variable, value: first(list), list: list!, origin };
    }
    const value = GENERATED[variable]();
    text = withAssignment(text, variable, value);
    return { variable, value, list: value, origin: SecretOrigin.GENERATED };
  });
  if (secrets.some((secret) => secret.origin === SecretOrigin.GENERATED)) writeFileSync(envFile, text, { mode: 0o600 });
  return secrets;
}
