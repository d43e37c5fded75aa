import { startRedisContainer } from './redis-container.js';
import { spawnRedisServer, type TestRedis } from './redis-server.js';

/**
 * A real Redis for a test suite, from the first source that works:
 * 1. `REDIS_URL`, when set (shared: tests must use their own prefixes, and cannot stop it);
 * 2. a testcontainers Redis, when a Docker engine is reachable;
 * 3. `redis-server` spawned on a free port in a temp dir (`REDIS_SERVER_BIN` overrides the binary).
 */
export async function startTestRedis(env: NodeJS.ProcessEnv = process.env): Promise<TestRedis> {
  const external = env.REDIS_URL;
  if (external) {
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
