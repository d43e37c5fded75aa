import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, parseEnv } from './env.js';
import { checkRedisEnv, describeTarget, hashTagOf, redisEnv, redisTargetOf, resolvePrefix } from './redis.js';

const DEFAULTS = { standalone: 'bull', cluster: '{flexprice}', sharded: 'flexprice' };
const schema = z.object(redisEnv).superRefine((env, ctx) => {
  checkRedisEnv(env, ctx, [{ variable: 'QUEUE_PREFIX', value: env.QUEUE_PREFIX, defaults: DEFAULTS }]);
});

function problemsOf(env: Record<string, string>): string[] {
  try {
    parseEnv(schema, env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe('Redis targets', () => {
  it('is one server by REDIS_URL unless REDIS_CLUSTER_NODES is set', () => {
    expect(redisTargetOf(parseEnv(schema, {}))).toEqual({ mode: 'standalone', url: 'redis://127.0.0.1:6379' });
    expect(
      redisTargetOf(parseEnv(schema, { REDIS_CLUSTER_NODES: 'redis-1:7000, redis-2:7001', REDIS_PASSWORD: 's3cret' })),
    ).toEqual({
      mode: 'cluster',
      nodes: [
        { host: 'redis-1', port: 7000 },
        { host: 'redis-2', port: 7001 },
      ],
      password: 's3cret',
    });
  });

  it('defaults the prefix by mode, and refuses a cluster prefix without a hash tag', () => {
    const cluster = redisTargetOf(parseEnv(schema, { REDIS_CLUSTER_NODES: 'a:1' }));
    expect(resolvePrefix(cluster, undefined, DEFAULTS)).toBe('{flexprice}');
    expect(resolvePrefix({ mode: 'standalone', url: 'redis://x' }, undefined, DEFAULTS)).toBe('bull');
    const [problem] = problemsOf({ REDIS_CLUSTER_NODES: 'a:1', QUEUE_PREFIX: 'bull' });
    expect(problem).toContain('QUEUE_PREFIX: must carry a hash tag in cluster mode, e.g. "{flexprice}"');
    expect(problemsOf({ REDIS_CLUSTER_NODES: 'a:1', QUEUE_PREFIX: 'app{q}' })).toEqual([]);
    expect(problemsOf({ QUEUE_PREFIX: 'bull' })).toEqual([]);
  });

  it('with QUEUE_SHARDS above 1 on a cluster: a prefix without a tag (the shards carry theirs), 1–64 shards', () => {
    const cluster = redisTargetOf(parseEnv(schema, { REDIS_CLUSTER_NODES: 'a:1' }));
    expect(resolvePrefix(cluster, undefined, DEFAULTS, 6)).toBe('flexprice');
    expect(resolvePrefix(cluster, undefined, DEFAULTS, 1)).toBe('{flexprice}');
    // On one server the shard count changes nothing about the prefix.
    expect(resolvePrefix({ mode: 'standalone', url: 'redis://x' }, undefined, DEFAULTS, 6)).toBe('bull');
    const [problem] = problemsOf({ REDIS_CLUSTER_NODES: 'a:1', QUEUE_SHARDS: '6', QUEUE_PREFIX: '{flexprice}' });
    expect(problem).toContain('QUEUE_PREFIX: must carry no hash tag with QUEUE_SHARDS above 1, e.g. "flexprice"');
    expect(problemsOf({ REDIS_CLUSTER_NODES: 'a:1', QUEUE_SHARDS: '6', QUEUE_PREFIX: 'app' })).toEqual([]);
    expect(problemsOf({ QUEUE_SHARDS: '6', QUEUE_PREFIX: '{app}' })).toEqual([]);
    expect(problemsOf({ QUEUE_SHARDS: '0' })).toEqual(['QUEUE_SHARDS: must be at least 1']);
    expect(problemsOf({ QUEUE_SHARDS: '65' })).toEqual(['QUEUE_SHARDS: must be at most 64']);
    expect(problemsOf({ QUEUE_SHARDS: '2.5' })).toEqual(['QUEUE_SHARDS: must be a whole number']);
  });

  it('with QUEUE_SHARDS above 1 on a cluster: refuses a prefix with braces but no tag (an empty "{}" hashes whole keys)', () => {
    // `fp{}x:flexprice.customer.{3}:wait`: Redis reads the first "{" and the first "}" after it; with
    // nothing between, it hashes the whole key, so the shard's tag is never read and a queue's (or
    // an entity's store) keys land on different slots: every script fails with CROSSSLOT.
    const [problem] = problemsOf({ REDIS_CLUSTER_NODES: 'a:1', QUEUE_SHARDS: '6', QUEUE_PREFIX: 'fp{}x' });
    expect(problem).toContain('QUEUE_PREFIX: must carry no hash tag with QUEUE_SHARDS above 1');
  });

  it('follows a sentinel-managed primary with REDIS_SENTINELS and REDIS_SENTINEL_NAME', () => {
    const env = parseEnv(schema, {
      REDIS_SENTINELS: 's1:26379, s2:26379,s3:26380',
      REDIS_SENTINEL_NAME: 'flexprice',
      REDIS_SENTINEL_PASSWORD: 'sentinel-pw',
      REDIS_PASSWORD: 'data-pw',
    });
    const target = redisTargetOf(env);
    expect(target).toEqual({
      mode: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26379 },
        { host: 's3', port: 26380 },
      ],
      name: 'flexprice',
      password: 'data-pw',
      sentinelPassword: 'sentinel-pw',
    });
    // Keys live on one primary: the standalone prefix, no hash tag needed.
    expect(resolvePrefix(target, undefined, DEFAULTS)).toBe('bull');
    expect(describeTarget(target)).toBe('sentinel flexprice via s1:26379,s2:26379,s3:26380');
  });

  it('refuses a second Redis target beside REDIS_SENTINELS, and sentinel settings without it', () => {
    expect(problemsOf({ REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_NAME: 'm', REDIS_URL: 'redis://r:6379' })).toEqual([
      'REDIS_SENTINELS: cannot be combined with REDIS_URL: set one of them',
    ]);
    expect(problemsOf({ REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_NAME: 'm', REDIS_CLUSTER_NODES: 'a:1' })).toEqual([
      'REDIS_SENTINELS: cannot be combined with REDIS_CLUSTER_NODES: set one of them',
    ]);
    expect(problemsOf({ REDIS_SENTINELS: 's1:26379' })).toEqual([
      'REDIS_SENTINEL_NAME: is required with REDIS_SENTINELS: the master group name the sentinels monitor',
    ]);
    expect(problemsOf({ REDIS_SENTINEL_NAME: 'm', REDIS_SENTINEL_PASSWORD: 'x' })).toEqual([
      'REDIS_SENTINEL_NAME: is only read with REDIS_SENTINELS, which is not set',
      'REDIS_SENTINEL_PASSWORD: is only read with REDIS_SENTINELS, which is not set',
    ]);
    expect(problemsOf({ REDIS_SENTINELS: 's1' })).toContain('REDIS_SENTINELS: must be host:port,host:port,...');
  });

  it('rejects malformed node lists', () => {
    expect(problemsOf({ REDIS_CLUSTER_NODES: 'redis-1' })).toEqual([
      'REDIS_CLUSTER_NODES: must be host:port,host:port,...',
    ]);
  });

  it('never shows a password', () => {
    expect(describeTarget({ mode: 'standalone', url: 'redis://:hunter2@redis:6379/0' })).toBe('redis://redis:6379/0');
    // An ACL user is half the credential; a query may carry options ioredis reads (a password too).
    expect(describeTarget({ mode: 'standalone', url: 'rediss://app:hunter2@redis:6380?password=hunter2' })).toBe(
      'rediss://redis:6380',
    );
    expect(describeTarget({ mode: 'cluster', nodes: [{ host: 'a', port: 1 }], password: 'hunter2' })).toBe(
      'cluster a:1',
    );
  });
});

describe('hash tags, as Redis Cluster reads them', () => {
  it('takes the text between the first { and the next }, when it is not empty', () => {
    expect(hashTagOf('{flexprice}')).toBe('flexprice');
    expect(hashTagOf('app{q}:x')).toBe('q');
    expect(hashTagOf('{x}{y}')).toBe('x');
    expect(hashTagOf('{{x}')).toBe('{x');
    expect(hashTagOf('}{x}')).toBe('x');
  });

  it('finds none in an empty pair, an unclosed one or none at all', () => {
    expect(hashTagOf('{}{x}')).toBeUndefined();
    expect(hashTagOf('a{b')).toBeUndefined();
    expect(hashTagOf('bull')).toBeUndefined();
  });

  it('refuses a cluster prefix whose only tag is empty', () => {
    expect(problemsOf({ REDIS_CLUSTER_NODES: 'a:1', QUEUE_PREFIX: '{}{x}' })).toHaveLength(1);
    expect(problemsOf({ REDIS_CLUSTER_NODES: 'a:1', QUEUE_PREFIX: '{x}{}' })).toEqual([]);
  });
});
