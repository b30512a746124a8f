import { MongoClient, type CommandStartedEvent, type Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertIfAbsent } from '../../lib/store/mongo';
import { freshDatabase } from '../support/mongo';

describe('insertIfAbsent (real Mongo-wire server)', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let db: Db;
  const inserts: CommandStartedEvent[] = [];

  beforeAll(async () => {
    database = await freshDatabase('insert', { monitorCommands: true });
    database.client.on('commandStarted', (event) => {
      if (event.commandName === 'insert') inserts.push(event);
    });
    db = database.db;
  });
  afterAll(async () => database.close());

  it('sends concurrent inserts as one command and tells each caller its own outcome', async () => {
    const collection = db.collection<{ _id: string; by: number }>('claims');
    await collection.insertOne({ _id: 'taken-before', by: -1 });
    inserts.length = 0;
    // 30 callers: ids 0..9 wanted by three callers each, and one id that already exists.
    const ids = Array.from({ length: 30 }, (_, i) => `id-${i % 10}`);
    const results = await Promise.all([
      ...ids.map((_id, by) => insertIfAbsent(collection, { _id, by })),
      insertIfAbsent(collection, { _id: 'taken-before', by: 99 }),
    ]);

    expect(inserts).toHaveLength(1);
    expect((inserts[0]!.command.documents as unknown[]).length).toBe(31);
    // Exactly one winner per id, and it is the caller whose document is stored.
    for (let id = 0; id < 10; id++) {
      const winners = ids.flatMap((_id, by) => (_id === `id-${id}` && results[by] ? [by] : []));
      expect(winners).toHaveLength(1);
      expect(await collection.findOne({ _id: `id-${id}` })).toMatchObject({ by: winners[0] });
    }
    expect(results[30]).toBe(false);
    expect(await collection.findOne({ _id: 'taken-before' })).toMatchObject({ by: -1 });
  });

  it('inserts a document alone with insertOne and reports a duplicate as false', async () => {
    const collection = db.collection<{ _id: string }>('single');
    inserts.length = 0;
    expect(await insertIfAbsent(collection, { _id: 'a' })).toBe(true);
    expect(await insertIfAbsent(collection, { _id: 'a' })).toBe(false);
    expect(inserts.map((event) => (event.command.documents as unknown[]).length)).toEqual([1, 1]);
  });

  it('fails every caller of a batch the server could not take, and none is told it inserted', async () => {
    const offline = new MongoClient('mongodb://127.0.0.1:1/none', { serverSelectionTimeoutMS: 300 });
    const collection = offline.db('none').collection<{ _id: string }>('claims');
    const results = await Promise.allSettled(['x', 'y', 'z'].map((_id) => insertIfAbsent(collection, { _id })));
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected', 'rejected']);
    await offline.close();
  });
});
