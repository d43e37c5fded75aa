import { defineConfig } from 'vitest/config';

// Tests run against the TypeScript sources of workspace packages (the `@flexprice/source` export
// condition), never against a possibly stale `dist`. Process-level tests run the built `dist`.
export default defineConfig({
  resolve: { conditions: ['@flexprice/source'] },
  ssr: { resolve: { conditions: ['@flexprice/source'] } },
  test: {
    include: [
      'apps/*/src/**/*.test.ts',
      'packages/*/src/**/*.test.ts',
      'apps/*/test/**/*.test.ts',
      'packages/*/test/**/*.test.ts',
      'tests/*/**/*.test.ts',
    ],
    // Generous: process-level tests start built apps, and CI machines are shared and slow at times.
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // Integration suites each start their own Redis; two cores, so keep parallelism modest.
    maxWorkers: 2,
  },
});
