import { randomBytes } from 'node:crypto';
import { test as base } from 'vitest';
import { startTestRedis } from './test-redis.js';

/** A unique BullMQ prefix / key namespace per test, so suites sharing a Redis never collide. */
export function uniquePrefix(label = 't'): string {
  return `${label}-${randomBytes(6).toString('hex')}`;
}

/** `test` with a file-scoped real Redis (`redis`), started before the first test that asks for it. */
// biome-ignore lint/correctness/noEmptyPattern: vitest requires a destructuring pattern here.
export const redisTest = base.extend('redis', { scope: 'file' }, async ({}, { onCleanup }) => {
  const redis = await startTestRedis();
  onCleanup(() => redis.dispose());
  return redis;
});
