import { describe, expect, it } from 'vitest';
import { createEvictionWatch, evictionPolicyOf } from './eviction.js';
import type { RedisClient } from './redis.js';

const infoOf = (policy: string) => `# Memory\r\nused_memory:1\r\nmaxmemory:0\r\nmaxmemory_policy:${policy}\r\n`;

/** A connected server whose INFO memory answers `answer()` (a unit test of the watch's logic only). */
function serverAnswering(answer: () => Promise<string>) {
  return { status: 'ready', info: answer, options: { host: '127.0.0.1', port: 6379 } } as unknown as RedisClient;
}

function recorder() {
  const lines: string[] = [];
  const log = (level: string) => (_fields: object | string, message?: string) =>
    lines.push(`${level} ${message ?? _fields}`);
  return { lines, logger: { info: log('info'), warn: log('warn'), error: log('error') } };
}

describe('evictionPolicyOf', () => {
  it('reads maxmemory_policy from INFO memory', () => {
    expect(evictionPolicyOf(infoOf('volatile-lru'))).toBe('volatile-lru');
    expect(evictionPolicyOf('# Memory\r\nused_memory:1\r\n')).toBeUndefined();
  });
});

describe('createEvictionWatch', () => {
  it('reports a policy that may evict, logs each change once, and is quiet when INFO is refused', async () => {
    let answer = () => Promise.resolve(infoOf('noeviction'));
    const { lines, logger } = recorder();
    const watch = createEvictionWatch(
      serverAnswering(() => answer()),
      logger,
    );
    expect(await watch.problem()).toBeUndefined();
    answer = () => Promise.resolve(infoOf('allkeys-lru'));
    const problem = await watch.problem();
    expect(problem).toMatch(/^redis_eviction: maxmemory-policy is allkeys-lru: Redis may evict keys/);
    expect(problem).toContain('set maxmemory-policy noeviction');
    expect(await watch.problem()).toBe(problem);
    answer = () => Promise.reject(new Error("NOPERM this user has no permissions to run the 'info' command"));
    expect(await watch.problem()).toBeUndefined();
    answer = () => Promise.resolve(infoOf('noeviction'));
    expect(await watch.problem()).toBeUndefined();
    expect(lines).toEqual([
      'error Redis may evict keys: not ready',
      "warn could not read Redis' maxmemory-policy",
      // (From unknown back to safe: nothing to say.)
    ]);
  });
});
