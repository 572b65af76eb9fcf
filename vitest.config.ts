import { defineConfig } from 'vitest/config';

// One run for the whole suite. Tests that need Redis get one started by the
// global setup (a real redis-server on a free port); Docker is the host engine.
// The chaos suite (test/chaos) runs on its own afterwards: vitest.chaos.config.ts.
export default defineConfig({
  test: {
    include: ['**/src/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**', 'test/chaos/**'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: true,
    maxWorkers: 3,
    reporters: ['default'],
  },
});
