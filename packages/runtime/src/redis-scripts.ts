import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RedisClient } from './redis.js';

/**
 * Redis Lua scripts as `.lua` files next to the module that runs them, loaded by name.
 *
 * `loadScript(import.meta.url, 'apply-version.lua')` reads the file beside the calling module: the
 * source file in tests (they run the TypeScript sources), its copy in `dist/` in production (each
 * app's build copies the `.lua` files of `src/` there: `scripts/copy-lua.mjs`). Callers load at
 * import, so a build or an image without its scripts fails at start, not at its first webhook.
 *
 * What a script must know that TypeScript defines (the version format of contracts' `versions.ts`)
 * is handed to it as `constants`: one `local NAME1, NAME2 = value1, value2` declaration put before
 * the file's first line, on that same line, so the line numbers Redis reports in an error are the
 * file's. A constant the file never names is refused: a script and its caller cannot drift apart
 * silently (and a name the file reads but nobody declared fails every call: Redis refuses a script
 * that reads an undeclared global).
 */
export interface RedisScript {
  /** The file's name, for messages. */
  readonly file: string;
  /** The command's name on a connection: the file's, camel-cased (`apply-version.lua` → `applyVersion`). */
  readonly name: string;
  /** What Redis runs: the constants' declaration, then the file. */
  readonly lua: string;
}

export type LuaConstant = string | number;

const FILE_NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*\.lua$/;
const CONSTANT_NAME = /^[A-Z][A-Z0-9_]*$/;
// Printable ASCII without quote or backslash: written between single quotes, a value needs no escaping.
const PLAIN_STRING = /^[\x20-\x26\x28-\x5b\x5d-\x7e]*$/;

function luaLiteral(name: string, value: LuaConstant): string {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new Error(`Lua constant ${name}: ${value} is not a safe integer`);
    return String(value);
  }
  if (!PLAIN_STRING.test(value)) throw new Error(`Lua constant ${name}: only printable ASCII without ' or \\`);
  return `'${value}'`;
}

/** `base`: the calling module's `import.meta.url`; `file`: a kebab-case `.lua` name beside it. */
export function loadScript(base: string, file: string, constants: Record<string, LuaConstant> = {}): RedisScript {
  if (!FILE_NAME.test(file)) throw new Error(`${file}: a script is a kebab-case .lua file next to its caller`);
  const url = new URL(file, base);
  let source: string;
  try {
    source = readFileSync(url, 'utf8');
  } catch (error) {
    throw new Error(
      `${fileURLToPath(url)} is missing: the build copies each app's src/**/*.lua into dist/ (scripts/copy-lua.mjs)`,
      { cause: error },
    );
  }
  const entries = Object.entries(constants);
  // Its code, that is: a header comment that lists a constant is no use of it.
  const code = source.replace(/--[^\n]*/g, '');
  for (const [name] of entries) {
    if (!CONSTANT_NAME.test(name)) throw new Error(`Lua constant ${name}: UPPER_SNAKE_CASE only`);
    if (!new RegExp(`\\b${name}\\b`).test(code)) throw new Error(`${file} never uses the constant ${name} it is given`);
  }
  const names = entries.map(([name]) => name).join(', ');
  const values = entries.map(([name, value]) => luaLiteral(name, value)).join(', ');
  const declaration = entries.length === 0 ? '' : `local ${names} = ${values} `;
  const name = file.slice(0, -'.lua'.length).replace(/-([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
  return { file, name, lua: declaration + source };
}

type ScriptMethod = (numberOfKeys: number, ...keysAndArgs: string[]) => Promise<unknown>;

/** The scripts defined on each connection, by command name, so that a name never runs two scripts. */
const defined = new WeakMap<RedisClient, Map<string, string>>();

/**
 * The script as a function of its keys and arguments on one connection, standalone or cluster:
 * defined once per connection (ioredis sends EVALSHA, and the script itself when Redis answers
 * NOSCRIPT: after a restart, a failover or on a cluster node that never ran it). `Reply` is what
 * the file's header says it answers; Redis' reply is not checked against it.
 */
export function scriptCommand<Reply>(
  redis: RedisClient,
  script: RedisScript,
): (keys: readonly string[], args: readonly string[]) => Promise<Reply> {
  let scripts = defined.get(redis);
  if (scripts === undefined) {
    scripts = new Map();
    defined.set(redis, scripts);
  }
  const known = scripts.get(script.name);
  if (known === undefined) {
    if (script.name in redis)
      throw new Error(`${script.file}: the client has a ${script.name} already; rename the file`);
    redis.defineCommand(script.name, { lua: script.lua });
    scripts.set(script.name, script.lua);
  } else if (known !== script.lua) {
    throw new Error(`${script.file}: another script named ${script.name} is defined on this connection`);
  }
  const method = (redis as unknown as Record<string, ScriptMethod>)[script.name];
  if (method === undefined) throw new Error(`${script.file}: ioredis did not define ${script.name}`);
  return async (keys, args) => (await method.call(redis, keys.length, ...keys, ...args)) as Reply;
}
