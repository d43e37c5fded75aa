import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { type RedisProcess, startRedisProcess } from './redis-process.js';

/** A real Redis for one test suite. Tests never flush it: they use their own key prefixes. */
export interface TestRedis {
  readonly url: string;
  /** How it was obtained; `external` (REDIS_URL) cannot be stopped or restarted by the tests. */
  readonly source: 'external' | 'testcontainers' | 'redis-server';
  /** Whether `stop`/`start`/`kill` work (false for REDIS_URL, which the tests do not own). */
  readonly controllable: boolean;
  /** Graceful shutdown: clients are refused; the AOF is fsynced, so `start` brings the data back. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>;
  /** SIGKILL: no chance to flush anything. */
  kill(): Promise<void>;
  /** Stops it for good and deletes its data. */
  dispose(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('could not read a free port');
  return address.port;
}

/** Resolves once Redis at `url` answers PING, or throws after `timeoutMs`. */
export async function waitForRedis(url: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.ping();
      return;
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      client.disconnect();
    }
  }
  throw new Error(`Redis at ${url} did not answer within ${timeoutMs} ms`, { cause: lastError });
}

/**
 * Spawns `redis-server` on a free port with its data in a temp dir. AOF with `appendfsync always`,
 * so a graceful stop and start loses nothing and outage tests can count every job; `noeviction`,
 * which the apps require (an `extraArgs` policy comes later, and wins). Run by `startRedisProcess`:
 * a Redis that will not start says why, and none outlives the test process.
 */
export async function spawnRedisServer(
  binary = 'redis-server',
  options: { appendfsync?: 'always' | 'everysec' | 'no'; extraArgs?: string[] } = {},
): Promise<TestRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'flexprice-redis-'));
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const logFile = join(dir, 'redis.log');
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'yes',
    '--appendfsync',
    options.appendfsync ?? 'always',
    '--logfile',
    logFile,
    '--maxmemory-policy',
    'noeviction',
    ...(options.extraArgs ?? []),
  ];
  let proc: RedisProcess | undefined;

  async function start(): Promise<void> {
    if (proc?.running) return;
    const label = `${binary} on port ${port}`;
    proc = await startRedisProcess({ label, binary, args, ready: () => waitForRedis(url), logFile });
  }

  try {
    await start();
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url,
    source: 'redis-server',
    controllable: true,
    start,
    stop: async () => proc?.stop('SIGTERM'),
    kill: async () => proc?.stop('SIGKILL'),
    async dispose() {
      await proc?.stop('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
