import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { z } from 'zod';
import { listOf, optional } from './env.js';
import { refusingPlaceholders } from './secrets.js';
import { redactUrl } from './urls.js';

export interface HostPort {
  host: string;
  port: number;
}

/**
 * Where Redis is: one server, the seed nodes of a Redis Cluster, or the primary a group of Redis
 * Sentinels names (followed through failovers).
 */
export type RedisTarget =
  | { mode: 'standalone'; url: string }
  | { mode: 'cluster'; nodes: HostPort[]; password: string | undefined }
  | {
      mode: 'sentinel';
      sentinels: HostPort[];
      /** The master group name the sentinels monitor. */
      name: string;
      /** Password of the data nodes (REDIS_PASSWORD). */
      password: string | undefined;
      /** Password of the sentinels themselves (REDIS_SENTINEL_PASSWORD). */
      sentinelPassword: string | undefined;
    };

const HOST_PORT_LIST = /^[^\s:]+:\d{1,5}$/;

function hostPorts(value: string): HostPort[] {
  return listOf(value).map((node) => {
    const at = node.lastIndexOf(':');
    return { host: node.slice(0, at), port: Number(node.slice(at + 1)) };
  });
}

const hostPortList = () =>
  optional(
    z.string().refine((value) => listOf(value).length > 0 && listOf(value).every((node) => HOST_PORT_LIST.test(node)), {
      error: 'must be host:port,host:port,...',
    }),
  );

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
  // One Redis server (password, TLS with rediss://, database in the URL); redis://127.0.0.1:6379
  // when no other target is given. (No schema default: set, it must not meet REDIS_SENTINELS.)
  REDIS_URL: optional(z.string().regex(/^rediss?:\/\/.+/, { error: 'must be a redis:// or rediss:// URL' })),
  // A Redis Cluster instead: seed nodes `host:port,host:port,...` (REDIS_URL is then ignored).
  REDIS_CLUSTER_NODES: hostPortList(),
  // Or the primary that Redis Sentinels name, followed through failovers: the sentinels'
  // `host:port,...`, and the master group name they monitor.
  REDIS_SENTINELS: hostPortList(),
  REDIS_SENTINEL_NAME: optional(z.string().regex(/^[^\s]+$/, { error: 'must be one word (the master group name)' })),
  // Password of the sentinels, when they require one (REDIS_PASSWORD is the data nodes'); never
  // .env.example's placeholder (a Redis guarded by it is guarded by a public password).
  REDIS_SENTINEL_PASSWORD: optional(refusingPlaceholders(z.string(), 'set the password the sentinels require')),
  // Password of the cluster or sentinel-managed nodes (one server: put it in REDIS_URL).
  REDIS_PASSWORD: optional(refusingPlaceholders(z.string(), 'set the password the Redis nodes require')),
  // BullMQ key prefix; `bull` by default, `{flexprice}` in cluster mode (it must carry a hash tag),
  // `flexprice` with QUEUE_SHARDS above 1 there (the shards' queue names carry theirs).
  QUEUE_PREFIX: optional(
    z.string().regex(/^[A-Za-z0-9_{}.-]+$/, { error: 'may hold letters, digits, "_", "-", ".", "{", "}" only' }),
  ),
  // Queues per family (1–64): on a Redis Cluster each on slots of its own, so that every master
  // takes a share; an entity's events stay on one. The same value for every app.
  QUEUE_SHARDS: z.coerce
    .number({ error: 'must be a whole number' })
    .int({ error: 'must be a whole number' })
    .min(1, { error: 'must be at least 1' })
    .max(64, { error: 'must be at most 64' })
    .default(1),
};

type RedisEnv = {
  REDIS_URL?: string | undefined;
  REDIS_CLUSTER_NODES?: string | undefined;
  REDIS_SENTINELS?: string | undefined;
  REDIS_SENTINEL_NAME?: string | undefined;
  REDIS_SENTINEL_PASSWORD?: string | undefined;
  REDIS_PASSWORD?: string | undefined;
  QUEUE_PREFIX?: string | undefined;
  QUEUE_SHARDS?: number | undefined;
};

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export function redisTargetOf(env: RedisEnv): RedisTarget {
  if (env.REDIS_SENTINELS !== undefined) {
    return {
      mode: 'sentinel',
      sentinels: hostPorts(env.REDIS_SENTINELS),
      name: env.REDIS_SENTINEL_NAME ?? '',
      password: env.REDIS_PASSWORD,
      sentinelPassword: env.REDIS_SENTINEL_PASSWORD,
    };
  }
  if (env.REDIS_CLUSTER_NODES !== undefined) {
    return { mode: 'cluster', nodes: hostPorts(env.REDIS_CLUSTER_NODES), password: env.REDIS_PASSWORD };
  }
  return { mode: 'standalone', url: env.REDIS_URL ?? DEFAULT_REDIS_URL };
}

export interface PrefixDefaults {
  standalone: string;
  /** On a Redis Cluster, one shard: every key on one slot. */
  cluster: string;
  /** On a Redis Cluster with QUEUE_SHARDS above 1: no tag (the shards' keys carry theirs). */
  sharded: string;
}

/** The mode's prefix default: a sentinel-managed primary is one server, as far as keys go. */
const prefixMode = (target: RedisTarget, shards: number) =>
  target.mode !== 'cluster' ? 'standalone' : shards > 1 ? 'sharded' : 'cluster';

/**
 * QUEUE_PREFIX when unset, shared by every app that touches the queues (they are shared state). The
 * cluster one carries a hash tag: every queue key in one slot.
 */
export const QUEUE_PREFIX_DEFAULTS: PrefixDefaults = {
  standalone: 'bull',
  cluster: '{flexprice}',
  sharded: 'flexprice',
};

/** The given key prefix, or the mode's default (validated by `checkRedisEnv` beforehand). */
export function resolvePrefix(
  target: RedisTarget,
  given: string | undefined,
  defaults: PrefixDefaults,
  shards = 1,
): string {
  return given ?? defaults[prefixMode(target, shards)];
}

/** Checks the Redis variables together, and the key prefixes against the mode; for a superRefine. */
export function checkRedisEnv(
  env: RedisEnv,
  ctx: z.RefinementCtx,
  prefixes: { variable: string; value: string | undefined; defaults: PrefixDefaults }[],
): void {
  const problem = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
  if (env.REDIS_SENTINELS !== undefined) {
    // One target, said once: a second one would be ignored, and which one wins is a guess.
    if (env.REDIS_URL !== undefined) problem('REDIS_SENTINELS', 'cannot be combined with REDIS_URL: set one of them');
    if (env.REDIS_CLUSTER_NODES !== undefined) {
      problem('REDIS_SENTINELS', 'cannot be combined with REDIS_CLUSTER_NODES: set one of them');
    }
    if (env.REDIS_SENTINEL_NAME === undefined) {
      problem('REDIS_SENTINEL_NAME', 'is required with REDIS_SENTINELS: the master group name the sentinels monitor');
    }
  } else {
    for (const variable of ['REDIS_SENTINEL_NAME', 'REDIS_SENTINEL_PASSWORD'] as const) {
      if (env[variable] !== undefined) problem(variable, 'is only read with REDIS_SENTINELS, which is not set');
    }
  }
  if (redisTargetOf(env).mode !== 'cluster') return;
  const sharded = (env.QUEUE_SHARDS ?? 1) > 1;
  for (const { variable, value, defaults } of prefixes) {
    if (value === undefined) continue;
    const tagged = hashTagOf(value) !== undefined;
    if (!sharded && !tagged) {
      ctx.addIssue({
        code: 'custom',
        path: [variable],
        message:
          `must carry a hash tag in cluster mode, e.g. "${defaults.cluster}": scripts touch several keys ` +
          'at once, which a cluster allows only within one slot',
      });
    } else if (sharded && /[{}]/.test(value)) {
      // (A brace without a tag is refused too: Redis reads the prefix's "{" first, and an empty
      // "{}" makes it hash whole keys, the shards' tags unread.)
      ctx.addIssue({
        code: 'custom',
        path: [variable],
        message:
          `must carry no hash tag with QUEUE_SHARDS above 1, e.g. "${defaults.sharded}" (nor any "{" or "}"): ` +
          "each shard's keys carry a tag of their own, and a tag in the prefix would put every shard on one slot",
      });
    }
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
  // A primary demoted to replica (a failover; a managed service's endpoint that moved) answers
  // writes READONLY: reconnect, which reaches the primary again, and send the command again (it
  // did not run).
  const reconnectOnError = (err: Error) => (err.message.startsWith('READONLY') ? (2 as const) : false);
  if (target.mode === 'standalone') return new Redis(target.url, { ...options, reconnectOnError });
  if (target.mode === 'sentinel') {
    return new Redis({
      ...options,
      reconnectOnError,
      sentinels: target.sentinels,
      name: target.name,
      password: target.password,
      sentinelPassword: target.sentinelPassword,
      // After a failover, the connection to the old primary drops (it died, or Sentinel has the
      // clients of a primary it demotes closed) and ioredis asks the sentinels for the new one.
      // Not ioredis' failover detector: on +switch-master it disconnects the connector, and when
      // that lands while the client is looking the primary up (a loaded machine), ioredis ends the
      // client for good: no more reconnects (tests/system/sentinel-reconnect.int.test.ts). A
      // primary that hangs rather than dies keeps its clients until Sentinel demotes it (no
      // socket timeout: ioredis 5 leaves its timer armed across reconnects, and a stall shorter
      // than Sentinel's down-after would have commands resent to a primary that ran them).
      failoverDetector: false,
      // A sentinel that hangs must not hold up the lookup: the next one is asked.
      sentinelCommandTimeout: 2_000,
      sentinelRetryStrategy: options.retryStrategy,
    });
  }
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

/** A Redis target for logs: never a user name, a password or a query (`redactUrl`). */
export function describeTarget(target: RedisTarget): string {
  if (target.mode === 'cluster') return `cluster ${target.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  if (target.mode === 'sentinel') {
    return `sentinel ${target.name} via ${target.sentinels.map((n) => `${n.host}:${n.port}`).join(',')}`;
  }
  return redactUrl(target.url);
}
