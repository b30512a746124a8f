import { randomUUID } from 'node:crypto';
import { MongoClient, type Db } from 'mongodb';
import { inject } from 'vitest';
import { ensureIndexes } from '../../lib/store/mongo';

/** A fresh database on the run's real Mongo-wire server, dropped by `close()`. */
export async function freshDatabase(name: string): Promise<{ db: Db; close(): Promise<void> }> {
  const client = await MongoClient.connect(inject('mongoUrl'), { serverSelectionTimeoutMS: 5000 });
  const db = client.db(`test_${name}_${randomUUID().slice(0, 8)}`);
  await ensureIndexes(db);
  return {
    db,
    async close() {
      await db.dropDatabase().catch(() => undefined);
      await client.close();
    },
  };
}
