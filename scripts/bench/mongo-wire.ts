/**
 * `npm run bench:mongo`: operations/s of the Mongo-wire server the tests run (the FerretDB built
 * by `npm run build:tools`, or MONGO_URL), for the shapes the worker uses: an insert under a
 * unique `_id`, and a find, update and find-and-modify by `_id`, BENCH_DOCS (2000) documents,
 * BENCH_CONCURRENCY (50) at a time. Figures, not assertions.
 */
import { MongoClient, type Collection } from 'mongodb';
import { startFerretDb, type RunningService } from '../local-services';

const DOCS = Number(process.env.BENCH_DOCS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50);

async function measure(label: string, operation: (i: number) => Promise<unknown>): Promise<string> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < DOCS) await operation(next++);
    }),
  );
  const perSecond = DOCS / ((performance.now() - started) / 1000);
  return `| ${label} | ${Math.round(perSecond).toLocaleString('en-US')} |`;
}

async function main(): Promise<void> {
  let server: RunningService | undefined;
  const url = process.env.MONGO_URL ?? (server = await startFerretDb()).url;
  const client = await new MongoClient(url, { maxPoolSize: CONCURRENCY }).connect();
  try {
    const db = client.db(`bench_mongo_${Date.now()}`);
    const docs: Collection<{ _id: string; status: string; n: number; updatedAt: Date }> = db.collection('docs');
    await docs.createIndex({ status: 1, updatedAt: 1 });
    const rows = [
      await measure('insertOne (unique _id)', (i) => docs.insertOne({ _id: `k${i}`, status: 'A', n: i, updatedAt: new Date() })),
      await measure('findOne by _id', (i) => docs.findOne({ _id: `k${i}` })),
      await measure('updateOne by _id', (i) => docs.updateOne({ _id: `k${i}` }, { $set: { status: 'B', updatedAt: new Date() } })),
      await measure('findOneAndUpdate by _id', (i) =>
        docs.findOneAndUpdate({ _id: `k${i}` }, { $set: { status: 'C' } }, { returnDocument: 'after' }),
      ),
    ];
    console.log(`${DOCS} documents, ${CONCURRENCY} at a time; Mongo at ${url}`);
    console.log('| operation | per second |\n| --- | --- |');
    console.log(rows.join('\n'));
    await db.dropDatabase();
  } finally {
    await client.close();
    await server?.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
