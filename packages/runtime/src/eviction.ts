import { Cluster } from 'ioredis';
import type { Logger } from 'pino';
import { ConfigError } from './env.js';
import { createRedis, describeTarget, type RedisClient, type RedisTarget } from './redis.js';

/**
 * The guarantees need a Redis that never evicts keys. Under `volatile-lru` (the default of several
 * managed services) the order marks, which carry a TTL, were evicted under memory pressure and an
 * older invoice state was forwarded after a newer one had been acknowledged; `allkeys-lru` can drop
 * jobs themselves. So the apps refuse to start on any other policy, and `/readyz` answers 503 when
 * it changes while they run (tests/system/eviction.int.test.ts).
 *
 * The policy is read with `INFO memory`, which managed services allow where `CONFIG GET` is
 * disabled. When even INFO is refused (an ACL without `+info`) the apps say so and start: the
 * policy cannot be known, and refusing would make such an ACL unusable.
 */
export const SAFE_EVICTION_POLICY = 'noeviction';

const FIX =
  'set maxmemory-policy noeviction (redis.conf, CONFIG SET maxmemory-policy noeviction, or the parameter group ' +
  'of a managed Redis)';

/** A server's `maxmemory_policy`, from its INFO memory. */
export function evictionPolicyOf(info: string): string | undefined {
  return /^maxmemory_policy:(\S+)/m.exec(info)?.[1];
}

export type EvictionReading =
  | { kind: 'safe' }
  | { kind: 'unsafe'; problem: string }
  | { kind: 'unknown'; reason: string };

/**
 * Reads the policy of every server that holds the keys: each master of a cluster, or the one server
 * (with Sentinel, the primary the client is connected to). The client must be connected.
 */
export async function readEviction(client: RedisClient, timeoutMs = 1_000): Promise<EvictionReading> {
  const servers = client instanceof Cluster ? client.nodes('master') : [client];
  let timer: NodeJS.Timeout | undefined;
  try {
    const infos = await Promise.race([
      Promise.all(servers.map(async (server) => ({ server, info: await server.info('memory') }))),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    const unsafe = infos
      .map(({ server, info }) => ({
        node: `${server.options.host}:${server.options.port}`,
        policy: evictionPolicyOf(info),
      }))
      .filter(({ policy }) => policy !== SAFE_EVICTION_POLICY);
    if (unsafe.length === 0) return { kind: 'safe' };
    const where = servers.length > 1 ? ` on ${unsafe.map(({ node }) => node).join(', ')}` : '';
    const policies = [...new Set(unsafe.map(({ policy }) => policy ?? '(not reported)'))].join(', ');
    return {
      kind: 'unsafe',
      problem:
        `maxmemory-policy is ${policies}${where}: Redis may evict keys under memory pressure (queued jobs, ` +
        `deduplication and order marks), and an older state would then be forwarded after a newer one; ${FIX}`,
    };
  } catch (error) {
    return { kind: 'unknown', reason: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * At start, before any work: connects to the target (waiting for Redis, like the apps do), reads
 * the policy and throws a ConfigError naming `maxmemory-policy` and the fix when Redis may evict.
 * INFO refused: a warning, and the start goes on.
 */
export async function refuseEvictingRedis(target: RedisTarget, logger: Pick<Logger, 'warn'>): Promise<void> {
  const client = createRedis(target, 'consumer');
  client.on('error', () => {}); // the app's own connections report Redis errors
  try {
    // (Not events.once: it would reject on the first connection error, and Redis may be starting.)
    if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
    const reading = await readEviction(client, 10_000);
    if (reading.kind === 'unsafe') {
      throw new ConfigError([`Redis (${describeTarget(target)}): ${reading.problem}`]);
    }
    if (reading.kind === 'unknown') {
      logger.warn(
        { err: { message: reading.reason } },
        `could not read Redis' maxmemory-policy (INFO memory): make sure it is ${SAFE_EVICTION_POLICY}`,
      );
    }
  } finally {
    client.disconnect();
  }
}

/**
 * For `/readyz` and the metrics, while the app runs: reads the policy again on each call, and logs
 * when it changes. Asked only of a connection that is up (the readiness PING reports Redis away).
 */
export function createEvictionWatch(
  client: RedisClient,
  logger: Pick<Logger, 'warn' | 'error' | 'info'>,
  timeoutMs = 1_000,
) {
  let last: EvictionReading['kind'] | undefined;
  return {
    /** `redis_eviction: …` when Redis may evict keys now; undefined when it may not, or cannot be read. */
    async problem(): Promise<string | undefined> {
      if (client.status !== 'ready') return undefined;
      const reading = await readEviction(client, timeoutMs);
      if (reading.kind !== last) {
        if (reading.kind === 'unsafe') logger.error({ problem: reading.problem }, 'Redis may evict keys: not ready');
        else if (reading.kind === 'unknown' && last !== undefined) {
          logger.warn({ err: { message: reading.reason } }, "could not read Redis' maxmemory-policy");
        } else if (last === 'unsafe') logger.info(`Redis' maxmemory-policy is ${SAFE_EVICTION_POLICY} again`);
        last = reading.kind;
      }
      return reading.kind === 'unsafe' ? `redis_eviction: ${reading.problem}` : undefined;
    },
  };
}

export type EvictionWatch = ReturnType<typeof createEvictionWatch>;

/**
 * The options of the gauge the receiver and the worker export (prom-client's, less the registry):
 * `flexprice_redis_eviction_unsafe`, 1 while Redis may evict, read from `watch()` at scrape time.
 */
export function evictionGaugeOptions(watch: () => EvictionWatch | undefined) {
  return {
    name: 'flexprice_redis_eviction_unsafe',
    help: "1 while Redis' maxmemory-policy is not noeviction (it may evict jobs and order marks): /readyz answers 503.",
    async collect(this: { set(value: number): void }): Promise<void> {
      this.set((await watch()?.problem()) === undefined ? 0 : 1);
    },
  };
}
