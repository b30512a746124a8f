import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { startFerretDb, startRedis, type RunningService } from '../../scripts/local-services';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    mongoUrl: string;
  }
}

async function reachable(redisUrl: string, mongoUrl: string): Promise<void> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  const mongo = new MongoClient(mongoUrl, { serverSelectionTimeoutMS: 3000 });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new Error(`REDIS_URL=${redisUrl} is not reachable (${String(error)}); start Redis or unset REDIS_URL`, { cause: error });
  } finally {
    redis.disconnect();
  }
  try {
    await mongo.db('admin').command({ ping: 1 });
  } catch (error) {
    throw new Error(`MONGO_URL=${mongoUrl} is not reachable (${String(error)}); start it or unset MONGO_URL`, { cause: error });
  } finally {
    await mongo.close();
  }
}

/**
 * Uses REDIS_URL and MONGO_URL when both are set; otherwise starts redis-server and FerretDB
 * on free ports for this run. Fails at once, saying what to install, when neither works:
 * integration tests never skip for want of a service.
 */
export default async function setup(project: TestProject) {
  const started: RunningService[] = [];
  let redisUrl = process.env.REDIS_URL;
  let mongoUrl = process.env.MONGO_URL;
  if (!redisUrl || !mongoUrl) {
    const redis = await startRedis();
    started.push(redis);
    const mongo = await startFerretDb();
    started.push(mongo);
    redisUrl = redis.url;
    mongoUrl = mongo.url;
  }
  await reachable(redisUrl, mongoUrl);
  project.provide('redisUrl', redisUrl);
  project.provide('mongoUrl', mongoUrl);
  return async () => {
    await Promise.all(started.map((service) => service.stop()));
  };
}
