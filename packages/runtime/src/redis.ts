import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { z } from 'zod';
import { listOf, optional } from './env.js';

/** Where Redis is: one server, or the seed nodes of a Redis Cluster. */
export type RedisTarget =
  | { mode: 'standalone'; url: string }
  | { mode: 'cluster'; nodes: { host: string; port: number }[]; password: string | undefined };

/**
 * The hash tag of a key as Redis Cluster reads it: the text between the first `{` and the first `}`
 * after it, when that text is not empty. Only the first `{` counts, so `{}{x}` has no tag (its
 * first pair is empty) and neither has `a{b`; `{x}{y}` is tagged `x`.
 */
export function hashTagOf(key: string): string | undefined {
  const open = key.indexOf('{');
  if (open < 0) return undefined;
  const close = key.indexOf('}', open + 1);
  if (close < 0 || close === open + 1) return undefined;
  return key.slice(open + 1, close);
}

/**
 * The Redis variables both apps read. In cluster mode every key a Lua script touches must live in
 * one slot, so the BullMQ prefix (and the store prefix) must carry a hash tag: `{flexprice}`.
 */
export const redisEnv = {
  // One Redis server (password, TLS with rediss://, database in the URL).
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/.+/, { error: 'must be a redis:// or rediss:// URL' })
    .default('redis://127.0.0.1:6379'),
  // A Redis Cluster instead: seed nodes `host:port,host:port,...` (REDIS_URL is then ignored).
  REDIS_CLUSTER_NODES: optional(
    z.string().refine((value) => listOf(value).every((node) => /^[^\s:]+:\d{1,5}$/.test(node)), {
      error: 'must be host:port,host:port,...',
    }),
  ),
  // Password of the cluster nodes (standalone: put it in REDIS_URL).
  REDIS_PASSWORD: optional(z.string()),
  // BullMQ key prefix; `bull` by default, `{flexprice}` in cluster mode (it must carry a hash tag).
  QUEUE_PREFIX: optional(
    z.string().regex(/^[A-Za-z0-9_{}.-]+$/, { error: 'may hold letters, digits, "_", "-", ".", "{", "}" only' }),
  ),
};

type RedisEnv = {
  REDIS_URL: string;
  REDIS_CLUSTER_NODES?: string | undefined;
  REDIS_PASSWORD?: string | undefined;
  QUEUE_PREFIX?: string | undefined;
};

export function redisTargetOf(env: RedisEnv): RedisTarget {
  if (env.REDIS_CLUSTER_NODES === undefined) return { mode: 'standalone', url: env.REDIS_URL };
  const nodes = listOf(env.REDIS_CLUSTER_NODES).map((node) => {
    const at = node.lastIndexOf(':');
    return { host: node.slice(0, at), port: Number(node.slice(at + 1)) };
  });
  return { mode: 'cluster', nodes, password: env.REDIS_PASSWORD };
}

export interface PrefixDefaults {
  standalone: string;
  cluster: string;
}

/**
 * QUEUE_PREFIX when unset, shared by every app that touches the queues (they are shared state). The
 * cluster one carries a hash tag: every queue key in one slot.
 */
export const QUEUE_PREFIX_DEFAULTS: PrefixDefaults = { standalone: 'bull', cluster: '{flexprice}' };

/** The given key prefix, or the mode's default (validated by `checkRedisEnv` beforehand). */
export function resolvePrefix(target: RedisTarget, given: string | undefined, defaults: PrefixDefaults): string {
  return given ?? defaults[target.mode];
}

/** Checks the Redis variables together, and the key prefixes against the mode; for a superRefine. */
export function checkRedisEnv(
  env: RedisEnv,
  ctx: z.RefinementCtx,
  prefixes: { variable: string; value: string | undefined; defaults: PrefixDefaults }[],
): void {
  if (redisTargetOf(env).mode !== 'cluster') return;
  for (const { variable, value, defaults } of prefixes) {
    if (value === undefined || hashTagOf(value) !== undefined) continue;
    ctx.addIssue({
      code: 'custom',
      path: [variable],
      message:
        `must carry a hash tag in cluster mode, e.g. "${defaults.cluster}": scripts touch several keys ` +
        'at once, which a cluster allows only within one slot',
    });
  }
}

export type RedisClient = Redis | Cluster;

/**
 * `producer`: fails fast (no offline queue, one try, short connect timeout), so a request that
 * cannot be queued is answered 503 now; it keeps reconnecting in the background.
 * `consumer`: patient (`maxRetriesPerRequest: null`), as BullMQ workers require; commands wait out
 * a Redis restart. `oneshot` (CLIs): a few connection attempts, then an error instead of a hang.
 */
export function createRedis(target: RedisTarget, role: 'producer' | 'consumer' | 'oneshot'): RedisClient {
  const backoff = (attempt: number) => Math.min(100 * attempt, 2_000);
  const options: RedisOptions = {
    // Auto-pipelining sends every command issued in one event-loop tick in one write: under load
    // many webhooks share one round trip to Redis (`pnpm bench`).
    producer: {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2_000,
      retryStrategy: backoff,
      enableAutoPipelining: true,
    },
    consumer: { maxRetriesPerRequest: null, retryStrategy: backoff },
    oneshot: {
      maxRetriesPerRequest: 1,
      connectTimeout: 2_000,
      retryStrategy: (attempt: number) => (attempt > 3 ? null : backoff(attempt)),
    },
  }[role];
  if (target.mode === 'standalone') return new Redis(target.url, options);
  return new Cluster(target.nodes, {
    redisOptions: { ...options, password: target.password },
    enableOfflineQueue: role !== 'producer',
    clusterRetryStrategy: role === 'oneshot' ? options.retryStrategy : backoff,
  });
}

/** Every key matching `pattern`, on every master of a cluster or on the one server. */
export async function scanKeys(client: RedisClient, pattern: string): Promise<string[]> {
  const servers = client instanceof Cluster ? client.nodes('master') : [client];
  const keys: string[] = [];
  for (const server of servers) {
    let cursor = '0';
    do {
      const [next, found] = await server.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
  }
  return keys;
}

/** True once the client is connected (a cluster reports `ready` too). */
function isConnected(client: RedisClient): boolean {
  return client.status === 'ready';
}

/** PING with a deadline, for /readyz. */
export async function ping(client: RedisClient, timeoutMs = 1_000): Promise<boolean> {
  if (!isConnected(client)) return false;
  let timer: NodeJS.Timeout | undefined;
  try {
    const answer = await Promise.race([
      client.ping(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('ping timed out')), timeoutMs);
      }),
    ]);
    return answer === 'PONG';
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** A Redis target for logs: never a password. */
export function describeTarget(target: RedisTarget): string {
  if (target.mode === 'cluster') return `cluster ${target.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  try {
    const url = new URL(target.url);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return 'redis://(unparseable)';
  }
}
