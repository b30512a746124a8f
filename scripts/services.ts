/**
 * `npm run services`: Redis and FerretDB for native development, in the foreground, on the
 * default ports (6379 and 27017, or REDIS_PORT / MONGO_PORT), data under ./tmp. Ctrl-C stops both.
 */
import { mkdirSync } from 'node:fs';
import { startFerretDb, startRedis } from './local-services';

async function main(): Promise<void> {
  mkdirSync('tmp/redis', { recursive: true });
  mkdirSync('tmp/ferretdb', { recursive: true });
  const redis = await startRedis({ port: Number(process.env.REDIS_PORT ?? 6379), dataDir: 'tmp/redis', quiet: false });
  const mongo = await startFerretDb({ port: Number(process.env.MONGO_PORT ?? 27017), dataDir: 'tmp/ferretdb', quiet: false });
  console.log(`REDIS_URL=${redis.url}\nMONGO_URL=${mongo.url}\nservices up; Ctrl-C to stop`);
  const stop = async () => {
    await Promise.all([redis.stop(), mongo.stop()]);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
