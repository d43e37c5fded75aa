import { Redis } from 'ioredis';
import { expect } from 'vitest';
import { redisTest as test, uniquePrefix } from '../src/fixtures.js';

test('gives a Redis that answers', async ({ redis }) => {
  const client = new Redis(redis.url);
  try {
    const key = `${uniquePrefix()}:probe`;
    await client.set(key, 'yes', 'EX', 60);
    expect(await client.get(key)).toBe('yes');
  } finally {
    client.disconnect();
  }
});

test('a stop refuses clients, a start brings the data back', async ({ redis, skip }) => {
  if (!redis.controllable) skip(`Redis from ${redis.source} is shared: the tests may not stop it`);
  const key = `${uniquePrefix()}:kept`;
  const writer = new Redis(redis.url);
  await writer.set(key, 'durable');
  writer.disconnect();

  await redis.stop();
  const probe = new Redis(redis.url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  probe.on('error', () => {});
  await expect(probe.connect()).rejects.toThrow();
  probe.disconnect();

  await redis.start();
  const reader = new Redis(redis.url);
  try {
    expect(await reader.get(key)).toBe('durable');
  } finally {
    reader.disconnect();
  }
});
