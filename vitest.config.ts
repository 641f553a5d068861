import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Type tests (expectTypeOf asserts nothing at run time): tsc checks *.test-d.ts files as part of `vitest run`.
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: 'tsconfig.json' },
    globalSetup: ['test/support/global-setup.ts'],
    // needs(): under CI=true a test that lacks root, a tool or the fixtures fails its file instead of skipping.
    setupFiles: ['test/support/needs-setup.ts'],
    // Integration and e2e tests share loop devices, mounts and 2 cores: run files one at a time.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // skip-reporter: lists what needs() skipped on this machine, and why, after the summary.
    reporters: ['default', './test/support/skip-reporter.ts'],
  },
});
