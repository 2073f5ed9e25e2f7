import { defineConfig } from 'vitest/config';

// Two projects: fast unit tests (run in parallel) and end-to-end tests that build
// network namespaces with real kernels (root only, one file at a time on 2 cores).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/unit/**/*.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 120_000,
          fileParallelism: false,
          globalSetup: ['test/support/build-dist.ts'],
        },
      },
    ],
  },
});
