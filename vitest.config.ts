import { defineConfig } from 'vitest/config';

// One run for the whole suite. Tests that need Redis get one started by the
// global setup (a real redis-server on a free port); Docker is the host engine.
export default defineConfig({
  test: {
    include: ['**/src/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: true,
    maxWorkers: 3,
    reporters: ['default'],
  },
});
