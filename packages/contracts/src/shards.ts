import { FAMILIES, type Family } from './event-types.js';
import { SYNC_QUEUE } from './routing.js';

/**
 * QUEUE_SHARDS: each family's queue split into that many queues whose keys hash to different
 * slots of a Redis Cluster, so that a cluster's masters share the work. An event goes to the shard
 * of its entity (a stable hash of the entity id), so one entity's events stay on one shard and its
 * order holds as with one queue; an event about no entity goes to any shard.
 *
 * WARNING: queue names are persisted state. One shard is the family's queue as always
 * (`flexprice.customer`); with N > 1, shard i is `flexprice.customer.{<tag i>}`: the braces are a
 * Redis Cluster hash tag (with a QUEUE_PREFIX that carries none), and the tags are chosen so that the
 * N shards fall in N equal ranges of the 16,384 slots, hence spread evenly over masters that split
 * the slots evenly (`redis-cli --cluster create` does).
 */

/** Redis Cluster's CRC16 (XMODEM: polynomial 0x1021, initial value 0) of a string's UTF-8 bytes. */
export function crc16(value: string): number {
  let crc = 0;
  for (const byte of Buffer.from(value, 'utf8')) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

export const CLUSTER_SLOTS = 16_384;

/** The slot of a hash tag (or of a key without one). */
export const slotOf = (tag: string): number => crc16(tag) % CLUSTER_SLOTS;

const tags = new Map<string, string>();

/**
 * The hash tag of shard `shard` of `shards`: the first of `<shard>`, `<shard>-1`, `<shard>-2`, …
 * whose slot lies in the shard's range `[shard, shard + 1) × 16384 / shards`.
 */
export function shardTag(shard: number, shards: number): string {
  const cached = tags.get(`${shard}/${shards}`);
  if (cached !== undefined) return cached;
  const low = Math.floor((shard * CLUSTER_SLOTS) / shards);
  const high = Math.floor(((shard + 1) * CLUSTER_SLOTS) / shards);
  for (let n = 0; ; n += 1) {
    const tag = n === 0 ? String(shard) : `${shard}-${n}`;
    const slot = slotOf(tag);
    if (slot >= low && slot < high) {
      tags.set(`${shard}/${shards}`, tag);
      return tag;
    }
  }
}

/** FNV-1a, 32 bits, of a string's UTF-16 units: stable across processes and versions. */
function fnv1a(value: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < value.length; i += 1) {
    hash ^= value.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/**
 * The shard of a key: a stable hash of it. The receivers key an event by its entity's id, so one
 * entity's events share a shard; an event about no entity by its delivery id (or, without one, its
 * content), so that a retry of it lands where the first try did and is recognised there.
 */
export function shardOf(key: string, shards: number): number {
  return shards <= 1 ? 0 : fnv1a(key) % shards;
}

/** The queue of shard `shard` of a family (see the top of this file). */
export function shardQueueName(family: Family, shard: number, shards: number): string {
  return shards <= 1 ? `flexprice.${family}` : `flexprice.${family}.{${shardTag(shard, shards)}}`;
}

/** Every queue of a family under `shards` shards. */
export function familyQueueNames(family: Family, shards: number): string[] {
  return Array.from({ length: Math.max(shards, 1) }, (_, shard) => shardQueueName(family, shard, shards));
}

/**
 * Every queue an app must know to leave none unseen, for the shard counts a deployment has run with
 * (`layouts`: the configured one, and any other ever recorded): the families' queues of each, then
 * the reconciler's. A count changed on a standalone Redis leaves jobs in the other layout's queues:
 * the workers drain those too.
 */
export function allQueueNames(layouts: readonly number[], syncQueue: string): string[] {
  const names = new Set<string>();
  for (const shards of layouts)
    for (const family of FAMILIES) for (const name of familyQueueNames(family, shards)) names.add(name);
  names.add(syncQueue);
  return [...names];
}

/**
 * The reconciler's queue (SYNC_INTERVAL): `flexprice.sync` (contracts' `SYNC_QUEUE`), but on a Redis
 * Cluster with several shards, whose queue prefix carries no hash tag, a name that carries its own
 * (`flexprice.sync.{sync}`): BullMQ's scripts touch several keys of a queue at once, which a cluster
 * allows only within one slot. Metrics label it `flexprice.sync` either way.
 */
export function syncQueueName(shards: number, cluster: boolean): string {
  return cluster && shards > 1 ? `${SYNC_QUEUE}.{sync}` : SYNC_QUEUE;
}

/**
 * The hash tag a worker's store keys of an entity carry: its shard's, on a Redis Cluster with more
 * than one shard (the store prefix then carries none), so store writes spread with the queues;
 * none otherwise (one slot by the prefix's own tag, or no slots at all).
 */
export function storeTagOf(entityId: string, shards: number, cluster: boolean): string | undefined {
  return cluster && shards > 1 ? shardTag(shardOf(entityId, shards), shards) : undefined;
}

/**
 * Where the shard counts a deployment has run with are recorded (a set, under the queue prefix):
 * the receivers add theirs when they start; the workers, the dashboard and `pnpm dlq` read it, so
 * that the queues of a count no longer configured are drained and seen until they are empty.
 */
export const layoutsKey = (queuePrefix: string): string => `${queuePrefix}:layouts`;
