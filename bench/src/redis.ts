import { Redis } from 'ioredis';
import type { AppendFsync } from './options.js';
import { cpuMicros } from './processes.js';
import { spawnRedisServer, type TestRedis } from './testing.js';

/** The run's own Redis: `redis-server` (spawned by @flexprice/testing) with AOF, as compose runs it. */
export interface BenchRedis {
  readonly url: string;
  readonly port: number;
  readonly version: string;
  /** A client of the bench itself (flushes, counts, the queues it fills and reads). */
  readonly client: Redis;
  flush(): Promise<void>;
  /** Commands Redis has run so far, the bench's own bookkeeping (INFO, FLUSHALL, ...) left out. */
  commandCalls(): Promise<number>;
  /** CPU time (user + system) redis-server has used so far, in µs. */
  cpuMicros(): number;
  usedMemoryMiB(): Promise<number>;
  /** Disconnects, stops redis-server and deletes its data. */
  dispose(): Promise<void>;
}

const BOOKKEEPING = new Set(['info', 'flushall', 'ping', 'client', 'config']);

export async function startBenchRedis(appendfsync: AppendFsync): Promise<BenchRedis> {
  const server: TestRedis = await spawnRedisServer('redis-server', {
    appendfsync,
    extraArgs: ['--maxmemory-policy', 'noeviction'],
  });
  const client = new Redis(server.url);
  client.on('error', () => {});
  try {
    const info = await client.info('server');
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
    const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
    if (!Number.isInteger(pid)) throw new Error('INFO server has no process_id');
    return {
      url: server.url,
      port: Number(new URL(server.url).port),
      version,
      client,
      async flush() {
        await client.flushall();
      },
      async commandCalls() {
        const stats = await client.info('commandstats');
        let total = 0;
        for (const [, command = '', calls] of stats.matchAll(/cmdstat_(\w+):calls=(\d+)/g)) {
          if (!BOOKKEEPING.has(command)) total += Number(calls);
        }
        return total;
      },
      cpuMicros: () => cpuMicros(pid),
      async usedMemoryMiB() {
        return Number(/used_memory:(\d+)/.exec(await client.info('memory'))?.[1]) / 2 ** 20;
      },
      async dispose() {
        client.disconnect();
        await server.dispose();
      },
    };
  } catch (error) {
    client.disconnect();
    await server.dispose();
    throw error;
  }
}
