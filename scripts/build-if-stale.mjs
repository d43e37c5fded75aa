// Builds the workspace (`pnpm run build`) when an entry point is missing or older than the sources,
// so that the root scripts work right after `pnpm install`, before any build.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
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

/** Builds when any of `entries` (paths from the repository root) is missing or stale; exits on failure. */
export function buildIfStale(entries, log = (message) => process.stderr.write(`${message}\n`)) {
  const files = entries.map((path) => join(root, path));
  const builtAt = Math.min(...files.map((file) => (existsSync(file) ? statSync(file).mtimeMs : 0)));
  if (Math.max(...SOURCES.map((dir) => newest(join(root, dir)))) <= builtAt) return;
  log(builtAt === 0 ? 'building (not built yet)' : 'building (sources changed since the last build)');
  const build = spawnSync('pnpm', ['run', 'build'], { cwd: root, stdio: ['ignore', 2, 2] });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
