// The Redis scripts live in `.lua` files next to the module that runs them, loaded by name
// (`loadScript` in packages/runtime), each with its own table of cases against a real Redis. This
// suite keeps it so, by reading the repository: no Lua in TypeScript, no script without its test.
// (tests/system/deployment.test.ts checks that the images ship them.)
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SKIPPED = new Set(['node_modules', 'dist', '.git', 'results', 'coverage']);

/** The files below `dir` (relative to the repository root) whose name passes `wanted`. */
function files(dir: string, wanted: (name: string) => boolean): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && !SKIPPED.has(entry.name)) found.push(...files(path, wanted));
    else if (entry.isFile() && wanted(entry.name)) found.push(path);
  }
  return found;
}

const read = (path: string) => readFileSync(join(root, path), 'utf8');
const SOURCES = ['apps', 'packages', 'tests', 'bench', 'scripts'].flatMap((dir) =>
  files(dir, (name) => /\.(ts|mts|js|mjs)$/.test(name)),
);
const LUA = ['apps', 'packages'].flatMap((dir) => files(dir, (name) => name.endsWith('.lua')));
/** Where a script is defined on a connection: the one helper that does it (and its own test). */
const LOADER = 'packages/runtime/src/redis-scripts.ts';
const LOADER_TEST = 'packages/runtime/src/redis-scripts.test.ts';

describe('the Redis scripts', () => {
  it('are found (the search looks where they are)', () => {
    expect(LUA.length).toBeGreaterThan(0);
    expect(SOURCES).toContain(LOADER);
  });

  it('never sit in TypeScript or JavaScript: no call to Redis from Lua in a source file', () => {
    const inline = SOURCES.filter((path) => /redis\.p?call\s*\(/.test(read(path)));
    expect(inline).toEqual([]);
  });

  it('are defined on a connection by loadScript / scriptCommand alone (no `lua` option, no EVAL of a string)', () => {
    const elsewhere = SOURCES.filter(
      (path) =>
        path !== LOADER &&
        path !== LOADER_TEST &&
        /\bdefineCommand\s*[(]|\blua\s*:|\.(?:eval|evalsha)\s*[(]/.test(read(path)),
    );
    expect(elsewhere).toEqual([]);
  });

  it("each sits in an app's or a package's src/, is loaded by name by a module beside it", () => {
    for (const lua of LUA) {
      expect(lua, lua).toMatch(/^(apps|packages)\/[^/]+\/src\//);
      const callers = files(dirname(lua), (name) => name.endsWith('.ts') && !name.endsWith('.test.ts')).filter(
        (path) =>
          dirname(path) === dirname(lua) && read(path).includes(`loadScript(import.meta.url, '${basename(lua)}'`),
      );
      expect(callers, `${lua} is loaded by name beside it`).toHaveLength(1);
    }
  });

  it('each has its own table of cases: test/<name>.int.test.ts in its package, describing the file', () => {
    const names = LUA.map((lua) => basename(lua));
    expect(new Set(names).size, 'one name per script (their tests are named after them)').toBe(names.length);
    for (const lua of LUA) {
      const pkg = relative(root, join(root, lua)).split('/').slice(0, 2).join('/');
      const test = `${pkg}/test/${basename(lua, '.lua')}.int.test.ts`;
      let source = '';
      try {
        source = read(test);
      } catch {
        // Reported below.
      }
      expect(source, `${test} exists`).not.toBe('');
      expect(source, `${test} describes ${basename(lua)}`).toContain(`describe('${basename(lua)}'`);
      expect(source, `${test} is table-driven`).toMatch(/\.for\(/);
    }
  });
});
