/**
 * `npm run sign`: signs an event the way a courier must, and prints a ready curl command, or
 * sends it with --send.
 *
 *   npm run sign                                   # a fresh sample event, printed as curl
 *   npm run sign -- --send                         # ... sent, reply printed
 *   npm run sign -- --file event.json --url http://localhost:3000/v1/events --secret s3cret
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { sampleEvent, signedHeaders } from './sample-event';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://localhost:3000/v1/events' },
    secret: { type: 'string' },
    file: { type: 'string' },
    send: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  console.log('usage: npm run sign -- [--file event.json] [--url URL] [--secret SECRET] [--send]');
  process.exit(0);
}

// The first of WEBHOOK_SECRETS is the one producers sign with during a rotation.
const secret = values.secret ?? process.env.WEBHOOK_SECRETS?.split(',')[0]?.trim() ?? 'dev-secret-change-me';
const body = values.file ? readFileSync(values.file, 'utf8') : JSON.stringify(sampleEvent());
const headers = signedHeaders(secret, body);

const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

async function main(): Promise<void> {
  if (!values.send) {
    const flags = Object.entries(headers).map(([name, value]) => `-H ${quote(`${name}: ${value}`)}`);
    console.log(['curl -i -X POST', quote(values.url), ...flags, '--data-binary', quote(body)].join(' '));
    return;
  }
  const response = await fetch(values.url, { method: 'POST', headers, body });
  console.log(`${response.status} ${response.statusText}`);
  console.log(await response.text());
  if (!response.ok) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
