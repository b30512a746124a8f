/**
 * `npm start`: the whole gateway on this machine, from a fresh clone. Installs what is missing
 * (scripts/bootstrap.mjs), then runs Redis, FerretDB, the emulator and the worker as one
 * supervised process tree (scripts/start/gateway.ts) until Ctrl-C.
 *
 *   npm start              # data in tmp/redis and tmp/ferretdb, kept across restarts
 *   npm start -- --fresh   # ... wiped first
 *
 * Plain JavaScript with Node's built-ins up to the bootstrap: node_modules may not exist yet.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { parseArgs, parseEnv } from 'node:util';
import { bootstrap, PROJECT_ROOT } from './bootstrap.mjs';

const { values } = parseArgs({
  options: {
    fresh: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log('usage: npm start [-- --fresh]   (--fresh wipes the local Redis and FerretDB data in tmp/ first)');
  process.exit(0);
}

// Output piped into a pager that quits must not crash the supervisor mid-stop.
process.stdout.on('error', () => undefined);

// .env under the shell's environment, as docker compose reads it: a key kept there serves both.
const envFile = join(PROJECT_ROOT, '.env');
const fileValues = existsSync(envFile) ? parseEnv(readFileSync(envFile, 'utf8')) : {};
const status = bootstrap('start', { ...fileValues, ...process.env });
if (status !== 0) process.exit(status);

const { require: requireTs } = await import('tsx/cjs/api');
const { runGateway } = requireTs('./start/gateway.ts', import.meta.url);
process.exit(await runGateway({ root: PROJECT_ROOT, fresh: values.fresh, shell: process.env, envFile, fileValues }));
