import { Redis } from 'ioredis';
import { describe, expect } from 'vitest';
import { redisTest as test, uniquePrefix } from '../src/fixtures.js';
import { keyspace } from '../src/redis-keys.js';

describe('keyspace', () => {
  test('reads back what it wrote, under its prefix only, @ names resolved both ways, TTLs in seconds', async ({
    redis,
  }) => {
    const connection = new Redis(redis.url);
    try {
      const prefix = uniquePrefix('keys');
      const space = keyspace(connection, prefix);
      const state = {
        '@a': { string: 'x' },
        '@b': { hash: { index_key: '@c', n: '1' }, ttl: 600 },
        '@c': { set: ['2', '1'] },
        '@d': { list: ['x', 'y'] },
      };
      await space.write(state);
      expect(space.at('@a')).toBe(`${prefix}:a`);
      expect(await connection.hget(`${prefix}:b`, 'index_key')).toBe(`${prefix}:c`);
      await connection.set(`${uniquePrefix('other')}:a`, 'not mine');
      expect(await space.read()).toEqual({ ...state, '@c': { set: ['1', '2'] } });
      await connection.zadd(`${prefix}:e`, 1, 'x');
      await expect(space.read()).rejects.toThrow('a zset, which keyspace does not read');
    } finally {
      connection.disconnect();
    }
  });
});
