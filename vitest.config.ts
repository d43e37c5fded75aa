import { configDefaults, defineConfig } from 'vitest/config';

// Tests run against the TypeScript sources of workspace packages (the `@flexprice/source` export
// condition), never against a possibly stale `dist`. Process-level tests run the built `dist`.
//
// Three projects (docs/development.md#tiers), told apart by file name, so every test file is in
// exactly one of them: a test that needs Redis or a build, or starts a server process, is
// `*.int.test.ts`.
//   unit         every other `*.test.ts` (`pnpm test:unit`): no build, no Redis, no process
//   integration  `*.int.test.ts` of the apps and packages: a real Redis; some run the built `dist`
//   system       `tests/*/**/*.int.test.ts`: the built apps, CLIs and Redis topologies as processes
// `pnpm test` builds and runs all three; CI calls it.
export default defineConfig({
  resolve: { conditions: ['@flexprice/source'] },
  ssr: { resolve: { conditions: ['@flexprice/source'] } },
  test: {
    // Generous: process-level tests start built apps, and CI machines are shared and slow at times.
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // Integration suites each start their own Redis; two cores, so keep parallelism modest. One
    // pool for every project: the tiers of a full run share the two workers, as before the split.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['{apps,packages}/*/{src,test}/**/*.test.ts', 'tests/*/**/*.test.ts'],
          exclude: [...configDefaults.exclude, '**/*.int.test.ts'],
          // The files of a worker share their imported modules instead of each importing bullmq,
          // ioredis, pino and the SDK again (on a loaded two-core machine: 8 s instead of 30 s).
          // Sound while a unit test leaves no global state behind: fake timers restored in
          // `afterEach`, no `vi.mock`, no writes to `process.env`.
          isolate: false,
        },
      },
      {
        extends: true,
        // `src` too, so that an integration test put beside the sources still runs (in its tier).
        test: { name: 'integration', include: ['{apps,packages}/*/{src,test}/**/*.int.test.ts'] },
      },
      {
        extends: true,
        test: { name: 'system', include: ['tests/*/**/*.int.test.ts'] },
      },
    ],
  },
});
