import { Redis } from 'ioredis';
import { startRedisContainer } from './redis-container.js';
import { spawnRedisServer, type TestRedis } from './redis-server.js';

/**
 * The apps refuse a Redis that may evict keys: a shared one (REDIS_URL) with another policy would
 * fail every suite that starts an app, each with its own refusal. Said once, here, instead.
 */
async function requireNoEviction(url: string): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    const policy = /^maxmemory_policy:(\S+)/m.exec(await client.info('memory'))?.[1];
    if (policy !== undefined && policy !== 'noeviction') {
      throw new Error(
        `REDIS_URL's Redis runs maxmemory-policy ${policy}; the apps (and so these tests) need noeviction: ` +
          'run CONFIG SET maxmemory-policy noeviction on it, or unset REDIS_URL to let the tests start their own',
      );
    }
  } finally {
    client.disconnect();
  }
}

/**
 * A real Redis for a test suite, from the first source that works:
 * 1. `REDIS_URL`, when set (shared: tests must use their own prefixes, and cannot stop it);
 * 2. a testcontainers Redis, when a Docker engine is reachable;
 * 3. `redis-server` spawned on a free port in a temp dir (`REDIS_SERVER_BIN` overrides the binary).
 */
export async function startTestRedis(env: NodeJS.ProcessEnv = process.env): Promise<TestRedis> {
  const external = env.REDIS_URL;
  if (external) {
    await requireNoEviction(external);
    const refuse = async () => {
      throw new Error('REDIS_URL is shared: the tests do not stop or restart a Redis they did not start');
    };
    return {
      url: external,
      source: 'external',
      controllable: false,
      stop: refuse,
      start: refuse,
      kill: refuse,
      dispose: async () => {},
    };
  }
  const container = await startRedisContainer();
  if (container) return container;
  try {
    return await spawnRedisServer(env.REDIS_SERVER_BIN ?? 'redis-server');
  } catch (error) {
    throw new Error(
      'No Redis for the tests: set REDIS_URL, make a Docker engine reachable, or install redis-server ' +
        '(Debian: apt-get install redis-server).',
      { cause: error },
    );
  }
}
