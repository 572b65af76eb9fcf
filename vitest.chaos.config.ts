import { defineConfig } from 'vitest/config';

// The chaos suite (test/chaos): faults driven through real processes with traffic running. Run after
// the main suite (scripts/test.sh), one file at a time: its faults (a Docker engine restart, a full
// disk, a loaded machine) must not land on another file's test, and its figures must not be skewed
// by other files' load.
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 180_000,
    hookTimeout: 240_000,
    fileParallelism: false,
    maxWorkers: 1,
    reporters: ['default'],
  },
});
