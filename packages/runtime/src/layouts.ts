import { ConfigError } from './env.js';
import { createRedis, QUEUE_PREFIX_DEFAULTS, type RedisClient, type RedisTarget } from './redis.js';

/**
 * The shard counts (QUEUE_SHARDS) a deployment has run with, recorded in a set under the queue
 * prefix (contracts' `layoutsKey`). On a Redis Cluster with several shards a worker's store keys
 * carry their entity's shard (contracts' `storeTagOf`): another count would move every key, and
 * what the store holds (versions, tombstones) would be left behind. So on a cluster the apps refuse
 * to start with a count other than the one recorded; on one server (or Sentinel's primary) the store
 * does not move, and the workers drain the queues of every recorded count instead.
 */
export async function recordedLayouts(redis: RedisClient, key: string): Promise<number[]> {
  return (await redis.smembers(key)).map(Number).filter((n) => Number.isInteger(n) && n > 0);
}

/**
 * The layouts keys that speak for a queue prefix on a cluster: its own and, when it is its mode's
 * default, the other default's too. The default follows QUEUE_SHARDS there (`{flexprice}` with one
 * shard, `flexprice` with more), so with the defaults a count changed moves every key: the count
 * recorded under the old prefix must still be read, or nothing would refuse the change and the old
 * queues and store would be left behind unseen.
 */
function layoutKeysOf(prefix: string, shards: number, keyOf: (prefix: string) => string): string[] {
  const { cluster, sharded } = QUEUE_PREFIX_DEFAULTS;
  const other = shards > 1 && prefix === sharded ? cluster : shards === 1 && prefix === cluster ? sharded : undefined;
  return other === undefined ? [keyOf(prefix)] : [keyOf(prefix), keyOf(other)];
}

/**
 * At start, on a cluster: refuses a QUEUE_SHARDS other than the one recorded (see above, and
 * `layoutKeysOf`), and with `record` (the apps; not the CLIs) records this one, whichever app starts
 * first (workers started before any receiver key the store by their count too). Two apps of two
 * counts starting at once may both record theirs: each then sees the other's, takes back its own
 * and refuses (a restart settles it).
 */
export async function refuseOtherClusterLayout(
  target: RedisTarget,
  options: { prefix: string; shards: number; keyOf: (prefix: string) => string; record?: boolean },
): Promise<void> {
  if (target.mode !== 'cluster') return;
  const { prefix, shards, keyOf, record = true } = options;
  const [own = keyOf(prefix), ...others] = layoutKeysOf(prefix, shards, keyOf);
  const client = createRedis(target, 'consumer');
  client.on('error', () => {}); // the app's own connections report Redis errors
  let found: { key: string; counts: number[] }[];
  try {
    if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
    const read = async () =>
      (
        await Promise.all(
          [own, ...others].map(async (key) => ({
            key,
            counts: (await recordedLayouts(client, key)).filter((n) => key !== own || n !== shards),
          })),
        )
      ).filter(({ counts }) => counts.length > 0);
    found = await read();
    if (found.length === 0 && record) {
      const added = await client.sadd(own, String(shards));
      found = await read();
      if (found.length > 0 && added === 1) await client.srem(own, String(shards));
    }
  } finally {
    client.disconnect();
  }
  if (found.length === 0) return;
  const counts = [...new Set(found.flatMap((at) => at.counts))].sort((a, b) => a - b);
  const elsewhere = found.filter(({ key }) => key !== own).map(({ key }) => key);
  const where = elsewhere.length === 0 ? '' : ` (recorded in ${elsewhere.join(', ')}, under the other default prefix)`;
  throw new ConfigError([
    `QUEUE_SHARDS: this Redis Cluster's queues were run with QUEUE_SHARDS=${counts.join(', ')}, not ${shards}${where}. ` +
      'On a cluster the store keys follow the shards (and the default prefixes with them): changing the count would ' +
      'leave the queued jobs and what the store holds behind. Keep the recorded value, or start the new count under ' +
      'new QUEUE_PREFIX and STORE_PREFIX once the old queues are drained, deleting the old record then ' +
      '(docs/operations.md, "Sharded queues").',
  ]);
}

/**
 * The shard counts whose queues an app must see: the configured one, the one queue per family of
 * versions before shards, and every one recorded. On a sharded Redis Cluster (several shards, a
 * prefix without hash tag) one queue per family cannot run, so it is left out there.
 */
export async function layoutsToSee(
  redis: RedisClient,
  key: string,
  configured: { shards: number; cluster: boolean },
): Promise<number[]> {
  const sharded = configured.cluster && configured.shards > 1;
  const counts = new Set([configured.shards, 1, ...(await recordedLayouts(redis, key))]);
  if (sharded) counts.delete(1);
  return [...counts].sort((a, b) => a - b);
}
