import type { Redis } from 'ioredis';
import { expect } from 'vitest';
import { uniquePrefix } from './fixtures.js';

/** One key as a table-driven test writes and expects it; `ttl` in seconds, absent when it has none. */
export type KeyState =
  | { string: string; ttl?: number }
  | { hash: Record<string, string>; ttl?: number }
  | { set: string[]; ttl?: number }
  | { list: string[]; ttl?: number };

/** Keys by name: `@name` for `<prefix>:name` (see `keyspace`). */
export type Keys = Record<string, KeyState>;

/**
 * A test's keys under a prefix of its own (`uniquePrefix`), as plain data: what a table-driven test
 * of a Redis script writes before and expects after. `@name` stands for `<prefix>:name` in key
 * names, in values (a record's field may name another key) and wherever `at` is applied (a
 * script's KEYS and ARGV). `read` answers every key under the prefix, so a key a script should not
 * have written shows up; a set reads sorted, a TTL rounded up to whole seconds.
 */
export function keyspace(redis: Redis, prefix: string) {
  const at = (text: string) => (text.startsWith('@') ? `${prefix}:${text.slice(1)}` : text);
  const back = (text: string) => (text.startsWith(`${prefix}:`) ? `@${text.slice(prefix.length + 1)}` : text);

  async function write(keys: Keys): Promise<void> {
    for (const [name, state] of Object.entries(keys)) {
      const key = at(name);
      if ('string' in state) await redis.set(key, at(state.string));
      else if ('hash' in state)
        await redis.hset(key, Object.fromEntries(Object.entries(state.hash).map(([f, v]) => [f, at(v)])));
      else if ('set' in state) await redis.sadd(key, ...state.set.map(at));
      else await redis.rpush(key, ...state.list.map(at));
      if (state.ttl !== undefined) await redis.expire(key, state.ttl);
    }
  }

  async function read(): Promise<Keys> {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      found.push(...keys);
      cursor = next;
    } while (cursor !== '0');
    const keys: Keys = {};
    for (const key of found.sort()) {
      const pttl = await redis.pttl(key);
      const ttl = pttl >= 0 ? { ttl: Math.ceil(pttl / 1000) } : {};
      const type = await redis.type(key);
      let state: KeyState;
      if (type === 'string') state = { string: back((await redis.get(key)) ?? ''), ...ttl };
      else if (type === 'hash') {
        const hash = await redis.hgetall(key);
        state = { hash: Object.fromEntries(Object.entries(hash).map(([f, v]) => [f, back(v)])), ...ttl };
      } else if (type === 'set') state = { set: (await redis.smembers(key)).map(back).sort(), ...ttl };
      else if (type === 'list') state = { list: (await redis.lrange(key, 0, -1)).map(back), ...ttl };
      else throw new Error(`${key}: a ${type}, which keyspace does not read`);
      keys[back(key)] = state;
    }
    return keys;
  }

  return { at, write, read };
}

/**
 * One row of a Redis script's table of cases: the keys before, the script's KEYS and ARGV (`@name`
 * for a key of the case's own prefix), and what it answers (or the error it fails with) and leaves.
 */
export interface ScriptCase {
  name: string;
  before: Keys;
  keys: string[];
  args: string[];
  reply?: unknown;
  /** Instead of `reply` when the script fails: its message. */
  error?: RegExp;
  after: Keys;
}

/** Runs one case under a prefix of its own: `run` is the script on the test's connection. */
export async function expectScriptCase(
  redis: Redis,
  run: (keys: string[], args: string[]) => Promise<unknown>,
  { before, keys, args, reply, error, after }: ScriptCase,
): Promise<void> {
  const space = keyspace(redis, uniquePrefix('lua'));
  await space.write(before);
  const answer = await run(keys.map(space.at), args.map(space.at)).catch((caught: unknown) => caught);
  if (error) expect(answer).toMatchObject({ name: 'ReplyError', message: expect.stringMatching(error) });
  else expect(answer).toEqual(reply);
  expect(await space.read()).toEqual(after);
}
