#!/usr/bin/env node
// `node ../../scripts/copy-lua.mjs [src] [dist]`, in an app's build after `tsc`: copies every `.lua`
// file below src/ to the same place below dist/, where `loadScript` (packages/runtime) reads it next
// to the compiled module that loads it. `.lua` files of dist/ that src/ no longer has are removed,
// as a renamed script must not linger in an image. The image ships dist/ whole (`pnpm deploy`, the
// app's `files`), scripts included: tests/system/deployment.test.ts holds that wiring.
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const [from = 'src', to = 'dist'] = process.argv.slice(2);
const src = resolve(from);
const dist = resolve(to);

/** The `.lua` files below `dir`, relative to it. */
const luaFiles = (dir) =>
  existsSync(dir)
    ? readdirSync(dir, { withFileTypes: true, recursive: true })
        .filter((entry) => entry.isFile() && entry.name.endsWith('.lua'))
        .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    : [];

const wanted = new Set(luaFiles(src));
for (const file of luaFiles(dist)) if (!wanted.has(file)) rmSync(join(dist, file));
for (const file of wanted) {
  mkdirSync(dirname(join(dist, file)), { recursive: true });
  copyFileSync(join(src, file), join(dist, file));
}
