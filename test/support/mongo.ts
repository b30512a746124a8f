import { randomUUID } from 'node:crypto';
import { MongoClient, type Db, type MongoClientOptions } from 'mongodb';
import { inject } from 'vitest';
import { ensureIndexes } from '../../lib/store/mongo';

/** A fresh database on the run's real Mongo-wire server, dropped by `close()`. */
export async function freshDatabase(
  name: string,
  clientOptions: MongoClientOptions = {},
): Promise<{ db: Db; client: MongoClient; close(): Promise<void> }> {
  const client = await MongoClient.connect(inject('mongoUrl'), { serverSelectionTimeoutMS: 5000, ...clientOptions });
  const db = client.db(`test_${name}_${randomUUID().slice(0, 8)}`);
  await ensureIndexes(db);
  return {
    db,
    client,
    async close() {
      await db.dropDatabase().catch(() => undefined);
      await client.close();
    },
  };
}

/**
 * The same database, except that `method` on collection `collection` throws "process died": a
 * store built on it stands for a worker that dies at that write (what came before it is real).
 */
export function dyingAt(db: Db, collection: string, method: 'updateOne' | 'insertOne'): Db {
  return new Proxy(db, {
    get(target, property, receiver) {
      if (property !== 'collection') return Reflect.get(target, property, receiver) as unknown;
      return (name: string) => {
        const real = target.collection(name);
        if (name !== collection) return real;
        return new Proxy(real, {
          get(c, p, r) {
            // Concurrent inserts on one collection go out together as one insertMany (lib/store/mongo.ts).
            if (p === method || (method === 'insertOne' && p === 'insertMany'))
              return async () => {
                throw new Error('process died');
              };
            const value = Reflect.get(c, p, r) as unknown;
            return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(c) : value;
          },
        });
      };
    },
  });
}
