import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // Kernel timing is not asserted anywhere, but the e2e tests spawn real runs: keep files sequential on 2 cores.
    fileParallelism: false,
    passWithNoTests: false,
  },
});
