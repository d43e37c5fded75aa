// Builds the workspace (`pnpm run build`) when an entry point is missing or older than the sources,
// so that the root scripts work right after `pnpm install`, before any build.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(fileURLToPath(new URL('..', import.meta.url)));

const SOURCES = [
  'apps/receiver/src',
  'apps/worker/src',
  'apps/dashboard/src',
  'packages/contracts/src',
  'packages/runtime/src',
  'packages/testing/src',
];

/** Newest modification time of the files below `dir` (0 when it does not exist). */
function newest(dir) {
  if (!existsSync(dir)) return 0;
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) latest = Math.max(latest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return latest;
}

/**
 * When the last build succeeded: a stamp written after it. (The compiler leaves an output file
 * untouched when its content did not change, so an entry point's own time can stay older than a
 * source edited since, a test for instance, and would ask for a build on every run.)
 */
const STAMP = join(root, 'node_modules', '.flexprice-built');

/** Builds when any of `entries` (paths from the repository root) is missing or stale; exits on failure. */
export function buildIfStale(entries, log = (message) => process.stderr.write(`${message}\n`)) {
  const files = entries.map((path) => join(root, path));
  const missing = files.some((file) => !existsSync(file));
  const builtAt = existsSync(STAMP)
    ? statSync(STAMP).mtimeMs
    : Math.min(...files.map((file) => (existsSync(file) ? statSync(file).mtimeMs : 0)));
  if (!missing && Math.max(...SOURCES.map((dir) => newest(join(root, dir)))) <= builtAt) return;
  log(missing ? 'building (not built yet)' : 'building (sources changed since the last build)');
  // Its output goes to stderr: stdout is the command's answer. `pnpm -s` would silence the
  // compiler's errors in the nested build: they are wanted here.
  const env = { ...process.env };
  delete env.npm_config_loglevel;
  const build = spawnSync('pnpm', ['run', 'build'], { cwd: root, env, stdio: ['ignore', 2, 2] });
  if (build.error) {
    log(`could not run the build (pnpm run build): ${build.error.message}`);
    process.exit(1);
  }
  if (build.status !== 0) {
    log(`the build failed (exit ${build.status ?? build.signal}); see above`);
    process.exit(1);
  }
  writeFileSync(STAMP, `${new Date().toISOString()}\n`);
}
