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
    // Two files at a time on these 2-core machines: with three, the suite's own load (a platform per e2e
    // file) made 1 s exec probes time out and pods miss the tests' 15 s readiness limit (three runs of
    // 2026-12-05 after the abuse and scale-to-zero files were added).
    maxWorkers: 2,
    reporters: ['default'],
  },
});
