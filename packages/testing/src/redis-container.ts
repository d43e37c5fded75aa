import { freePort, type TestRedis, waitForRedis } from './redis-server.js';

/**
 * Starts Redis in a container when a Docker engine answers, or returns undefined (fast) when none
 * does. The host port is fixed so that a stop/start keeps the URL the apps were given.
 */
export async function startRedisContainer(image = 'redis:7.4-alpine'): Promise<TestRedis | undefined> {
  const { GenericContainer, getContainerRuntimeClient } = await import('testcontainers');
  try {
    await getContainerRuntimeClient();
  } catch {
    return undefined;
  }
  const port = await freePort();
  const started = await new GenericContainer(image)
    .withCommand([
      'redis-server',
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--maxmemory-policy',
      'noeviction',
    ])
    .withExposedPorts({ container: 6379, host: port })
    .start();
  const url = `redis://${started.getHost()}:${port}`;
  const runtime = await getContainerRuntimeClient();
  const container = runtime.container.getById(started.getId());
  await waitForRedis(url);
  return {
    url,
    source: 'testcontainers',
    controllable: true,
    stop: async () => {
      await container.stop({ t: 10 });
    },
    start: async () => {
      await container.start();
      await waitForRedis(url);
    },
    kill: async () => {
      await container.kill();
    },
    dispose: async () => {
      await started.stop({ remove: true, timeout: 1_000 });
    },
  };
}
