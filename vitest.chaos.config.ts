import { defineConfig } from 'vitest/config';
import base from './vitest.config';

/**
 * `npm run test:chaos`: the fault suite (test/chaos), apart from `npm test` because each file
 * kills, cuts or slows real processes for minutes. Same services and settings as the main suite.
 */
export default defineConfig({
  test: {
    ...base.test,
    include: ['test/chaos/**/*.test.ts'],
    exclude: [],
    testTimeout: 300_000,
    hookTimeout: 180_000,
    reporters: ['default', ['json', { outputFile: 'tmp/vitest-chaos-results.json' }]],
  },
});
