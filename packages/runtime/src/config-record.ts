import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { RedisClient } from './redis.js';

/**
 * What each process runs with, recorded in Redis, so that processes can compare the settings they
 * must agree on (what receivers queue, what workers process) without trusting every deployment
 * file to hold one value. Under the queue prefix, one hash per role:
 *
 *   <QUEUE_PREFIX>:config:receivers   hash: instance id → JSON record, `at` its last write (Redis' clock, ms)
 *   <QUEUE_PREFIX>:config:workers     the same for the workers
 *
 * Each process rewrites its record every CONFIG_RECORD_INTERVAL_MS; a record is live for
 * CONFIG_RECORD_TTL_MS after its last write (a crashed process drops out by then), readers remove
 * stale fields, a process that shuts down removes its own, and each hash expires with its last
 * writer. A hash per role rather than a key per instance: the live records are one HGETALL, where
 * keys would need a SCAN of the whole keyspace (of every master, in a cluster). In a cluster the
 * prefix carries the queues' hash tag, so these keys live on the queues' slot.
 */
export const CONFIG_RECORD_INTERVAL_MS = 10_000;
export const CONFIG_RECORD_TTL_MS = 30_000;

export type ConfigRole = 'receiver' | 'worker';

/** The hash holding the records of one role under a queue prefix. */
export function configRecordsKey(prefix: string, role: ConfigRole): string {
  return `${prefix}:config:${role}s`;
}

/** A process's id among the records: host, pid, and a random part (tests run several apps in one process). */
export function instanceId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

/** The version of the package a module belongs to (its package.json sits above `src/` and `dist/`). */
export function packageVersion(moduleUrl: string): string {
  try {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', moduleUrl), 'utf8')) as {
      version?: unknown;
    };
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}

export interface ConfigRecorderOptions {
  /** QUEUE_PREFIX: records are kept, and compared, per prefix. */
  prefix: string;
  role: ConfigRole;
  instance: string;
  /** This process's record; `at` is added at each write. Never a secret or a URL. */
  record: Record<string, unknown>;
  /** The other role, whose live records are handed to `onRead` after each write. */
  peers?: { role: ConfigRole; onRead: (records: Record<string, unknown>[]) => void };
  logger: Pick<Logger, 'warn' | 'info'>;
  intervalMs?: number;
  ttlMs?: number;
}

/** Records this process's configuration in Redis until closed, and reads its peers' (see above). */
export function createConfigRecorder(client: RedisClient, options: ConfigRecorderOptions) {
  const { instance, logger, peers } = options;
  const intervalMs = options.intervalMs ?? CONFIG_RECORD_INTERVAL_MS;
  const ttlMs = options.ttlMs ?? CONFIG_RECORD_TTL_MS;
  const own = configRecordsKey(options.prefix, options.role);
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let failing = false;

  /** The live records of a hash, its stale fields removed. */
  async function liveRecords(key: string, now: number): Promise<Record<string, unknown>[]> {
    const live: Record<string, unknown>[] = [];
    const stale: string[] = [];
    for (const [field, json] of Object.entries(await client.hgetall(key))) {
      let record: unknown;
      try {
        record = JSON.parse(json);
      } catch {
        record = undefined;
      }
      const at = (record as { at?: unknown } | undefined)?.at;
      if (typeof at === 'number' && at + ttlMs > now) live.push(record as Record<string, unknown>);
      else stale.push(field);
    }
    if (stale.length > 0) await client.hdel(key, ...stale);
    return live;
  }

  async function refresh(): Promise<void> {
    try {
      const [seconds, micros] = await client.time();
      const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      await client
        .multi()
        .hset(own, instance, JSON.stringify({ ...options.record, at: now }))
        .pexpire(own, ttlMs)
        .exec();
      await liveRecords(own, now);
      if (peers) peers.onRead(await liveRecords(configRecordsKey(options.prefix, peers.role), now));
      if (failing) logger.info('configuration recorded in Redis again');
      failing = false;
    } catch (error) {
      if (!failing) {
        logger.warn(
          { err: { message: error instanceof Error ? error.message : String(error) } },
          "could not record this process's configuration in Redis (or read the others'): trying again",
        );
      }
      failing = true;
    }
  }

  function tick(): Promise<void> {
    running ??= refresh().finally(() => {
      running = undefined;
    });
    return running;
  }

  return {
    /** Writes (and reads) once now, then every interval. The promise is the first write's. */
    start(): Promise<void> {
      timer ??= setInterval(() => void tick(), intervalMs).unref();
      return tick();
    },
    /** Writes and reads again, after the round in flight if any (tests). */
    async refresh(): Promise<void> {
      await running;
      await tick();
    },
    /** Stops, and removes this process's record (waiting at most `timeoutMs` for Redis). */
    async close(timeoutMs = 1_000): Promise<void> {
      clearInterval(timer);
      let deadline: NodeJS.Timeout | undefined;
      await Promise.race([
        (async () => {
          await running;
          await client.hdel(own, instance);
        })().catch(() => undefined),
        new Promise((resolve) => {
          deadline = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(deadline);
    },
  };
}

export type ConfigRecorder = ReturnType<typeof createConfigRecorder>;
