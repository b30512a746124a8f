import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The fault suite runs on its own: `npm run test:chaos` (vitest.chaos.config.ts).
    exclude: ['test/chaos/**', '**/node_modules/**'],
    // Starts (or checks) the real Redis and Mongo-wire server every integration test uses.
    globalSetup: ['test/support/global-setup.ts'],
    // Integration and end-to-end files start real processes; on a 2-core machine they run
    // one file at a time, each on its own queue prefix and database.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default', ['json', { outputFile: 'tmp/vitest-results.json' }]],
  },
});
