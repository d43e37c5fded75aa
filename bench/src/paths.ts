import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: this file runs as `bench/dist/paths.js` (and is checked as `bench/src/paths.ts`). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** An absolute path from a path relative to the repository root. */
export const fromRoot = (path: string): string => join(ROOT, path);

/** The processes the bench starts, relative to the repository root. */
export const SCRIPTS = {
  receiver: 'apps/receiver/dist/main.js',
  worker: 'apps/worker/dist/main.js',
  bareExpress: 'bench/baselines/bare-express.mjs',
  naiveReceiver: 'bench/baselines/naive-receiver.mjs',
  minimalReceiver: 'bench/baselines/minimal-receiver.mjs',
  naiveWorker: 'bench/baselines/naive-worker.mjs',
  forwardTarget: 'bench/baselines/forward-target.mjs',
  redisProxy: 'bench/baselines/redis-proxy.mjs',
} as const;

export const RESULTS_FILE = 'bench/results/latest.json';
