import { scriptCommand } from '@flexprice/runtime';
import { expectScriptCase, redisTest, type ScriptCase } from '@flexprice/testing';
import { Redis } from 'ioredis';
import { describe } from 'vitest';
import { releaseForwardLockScript } from '../src/ordering/versioned-store.js';

// release-forward-lock.lua, case by case, against a real Redis: only the caller's lock goes.

const cases: ScriptCase[] = [
  {
    name: "the caller's lock: released",
    before: { '@lock': { string: 'tok-1', ttl: 30 } },
    keys: ['@lock'],
    args: ['tok-1'],
    reply: 1,
    after: {},
  },
  {
    name: "another forward's lock (the caller's lapsed and was taken): left, with its TTL",
    before: { '@lock': { string: 'tok-2', ttl: 30 } },
    keys: ['@lock'],
    args: ['tok-1'],
    reply: 0,
    after: { '@lock': { string: 'tok-2', ttl: 30 } },
  },
  {
    name: 'no lock (it lapsed): nothing to do',
    before: {},
    keys: ['@lock'],
    args: ['tok-1'],
    reply: 0,
    after: {},
  },
  {
    name: 'a lock of the wrong type (a hash): the call fails, the key left',
    before: { '@lock': { hash: { x: '1' } } },
    keys: ['@lock'],
    args: ['tok-1'],
    error: /WRONGTYPE/,
    after: { '@lock': { hash: { x: '1' } } },
  },
];

const test = redisTest.extend('connection', async ({ redis }, { onCleanup }) => {
  const connection = new Redis(redis.url);
  onCleanup(() => connection.disconnect());
  return connection;
});

describe('release-forward-lock.lua', () => {
  test.for(cases)('$name', async (row, { connection }) => {
    await expectScriptCase(connection, scriptCommand(connection, releaseForwardLockScript), row);
  });
});
