import { describe, expect, it } from 'vitest';
import { FAMILIES } from './event-types.js';
import {
  allQueueNames,
  CLUSTER_SLOTS,
  crc16,
  familyQueueNames,
  shardOf,
  shardQueueName,
  shardTag,
  slotOf,
  storeTagOf,
  syncQueueName,
} from './shards.js';

describe('Redis Cluster slots', () => {
  it("computes Redis' CRC16 (the cluster specification's test vector) and slots", () => {
    expect(crc16('123456789')).toBe(0x31c3);
    // Known slots (CLUSTER KEYSLOT foo / bar / hello on any Redis).
    expect(slotOf('foo')).toBe(12182);
    expect(slotOf('bar')).toBe(5061);
    expect(slotOf('hello')).toBe(866);
  });
});

describe('shard tags', () => {
  for (const shards of [2, 3, 6, 16, 64]) {
    it(`puts each of ${shards} shards in its own equal range of the slots`, () => {
      const tags = Array.from({ length: shards }, (_, shard) => shardTag(shard, shards));
      expect(new Set(tags).size).toBe(shards);
      tags.forEach((tag, shard) => {
        const slot = slotOf(tag);
        expect(slot).toBeGreaterThanOrEqual(Math.floor((shard * CLUSTER_SLOTS) / shards));
        expect(slot).toBeLessThan(Math.floor(((shard + 1) * CLUSTER_SLOTS) / shards));
        expect(tag).toMatch(/^[0-9-]+$/);
      });
    });
  }

  it('names one shard as the family queue always was, and several with their tag', () => {
    expect(shardQueueName('customer', 0, 1)).toBe('flexprice.customer');
    expect(familyQueueNames('invoice', 1)).toEqual(['flexprice.invoice']);
    expect(familyQueueNames('invoice', 3)).toEqual([0, 1, 2].map((s) => `flexprice.invoice.{${shardTag(s, 3)}}`));
  });

  it('lists every queue of every layout once, the reconciler’s last', () => {
    const names = allQueueNames([1, 3, 3], 'flexprice.sync');
    expect(names).toHaveLength(FAMILIES.length * 4 + 1);
    expect(new Set(names).size).toBe(names.length);
    expect(names.at(-1)).toBe('flexprice.sync');
  });

  it("gives the reconciler's queue a hash tag of its own on a sharded cluster (its prefix has none)", () => {
    expect(syncQueueName(1, false)).toBe('flexprice.sync');
    expect(syncQueueName(6, false)).toBe('flexprice.sync');
    expect(syncQueueName(1, true)).toBe('flexprice.sync');
    expect(syncQueueName(6, true)).toBe('flexprice.sync.{sync}');
  });
});

describe('shardOf', () => {
  it('is stable, in range, and spreads ids evenly', () => {
    const counts = Array(6).fill(0) as number[];
    for (let i = 0; i < 60_000; i += 1) {
      const id = `cust_${i.toString(36).padStart(8, '0')}`;
      const shard = shardOf(id, 6);
      expect(shardOf(id, 6)).toBe(shard);
      counts[shard] = (counts[shard] as number) + 1;
    }
    for (const n of counts) expect(Math.abs(n - 10_000)).toBeLessThan(500);
    expect(shardOf('anything', 1)).toBe(0);
  });

  it('keys the store by shard only on a cluster with several shards', () => {
    expect(storeTagOf('cust_1', 6, true)).toBe(shardTag(shardOf('cust_1', 6), 6));
    expect(storeTagOf('cust_1', 6, false)).toBeUndefined();
    expect(storeTagOf('cust_1', 1, true)).toBeUndefined();
  });
});
