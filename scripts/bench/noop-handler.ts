/**
 * The benchmark's baseline: a Lambda handler that does nothing but answer 202. Measuring it
 * behind the same emulator shows what the emulator itself costs, so the ingest figures can be
 * read as a ratio. Added to a generated bench config only; never deployed.
 */
export const handler = () =>
  Promise.resolve({ statusCode: 202, headers: { 'content-type': 'application/json' }, body: '{"accepted":true}' });
