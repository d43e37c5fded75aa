import { ConfigError } from './env.js';
import { createRedis, type RedisClient, type RedisTarget } from './redis.js';

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
 * At start, on a cluster: refuses a QUEUE_SHARDS other than the one recorded (see above), and
 * records this one, whichever app starts first (workers started before any receiver key the store
 * by their count too). Two apps of two counts starting at once may both record theirs: each then
 * sees the other's, takes back its own and refuses (a restart settles it).
 */
export async function refuseOtherClusterLayout(target: RedisTarget, key: string, shards: number): Promise<void> {
  if (target.mode !== 'cluster') return;
  const client = createRedis(target, 'consumer');
  client.on('error', () => {}); // the app's own connections report Redis errors
  let other: number[];
  try {
    if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
    const others = async () => (await recordedLayouts(client, key)).filter((n) => n !== shards);
    other = await others();
    if (other.length === 0) {
      const added = await client.sadd(key, String(shards));
      other = await others();
      if (other.length > 0 && added === 1) await client.srem(key, String(shards));
    }
  } finally {
    client.disconnect();
  }
  if (other.length === 0) return;
  throw new ConfigError([
    `QUEUE_SHARDS: this Redis Cluster's queues were run with QUEUE_SHARDS=${other.join(', ')}, not ${shards}. ` +
      'On a cluster the store keys follow the shards: changing the count would leave what the store holds behind. ' +
      'Keep the recorded value, or start the new count under new QUEUE_PREFIX and STORE_PREFIX once the old ' +
      'queues are drained (docs/operations.md, "Sharded queues").',
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
