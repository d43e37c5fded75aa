import { createRedis, type RedisClient } from '@flexprice/runtime';
import { redisTest, startFlexpriceApiStandIn, uniquePrefix } from '@flexprice/testing';
import { pino } from 'pino';
import { describe, expect } from 'vitest';
import { createCustomerStore } from '../src/customer-store.js';
import { syncCustomers } from '../src/customer-sync.js';
import { createFlexpriceApi } from '../src/flexprice-api.js';

// The reconciler itself, in-process, with small pages: how it pages and what it skips.

const KEY = 'test-api-key-0123456789';

const test = redisTest.extend('setup', async ({ redis }, { onCleanup }) => {
  const api = await startFlexpriceApiStandIn({ apiKey: KEY });
  const connection: RedisClient = createRedis({ mode: 'standalone', url: redis.url }, 'consumer');
  onCleanup(async () => {
    connection.disconnect();
    await api.close();
  });
  const prefix = uniquePrefix('sync');
  const store = createCustomerStore(connection, { prefix, processedTtlSeconds: 60 });
  const run = (extra: Partial<Parameters<typeof syncCustomers>[0]> = {}) =>
    syncCustomers({
      api: createFlexpriceApi({ url: api.url, key: KEY, timeoutMs: 2_000 }),
      applier: { store, forward: undefined },
      redis: connection,
      prefix,
      log: pino({ level: 'silent' }),
      pageSize: 2,
      ...extra,
    });
  return { api, store, run };
});

describe('the reconciler', () => {
  test('customers sharing one updated_at across pages: one updated mid-sync leaves none unread', async ({ setup }) => {
    const { api, store, run } = setup;
    const at = '2026-11-20T10:00:00.000001Z';
    for (const id of ['c_a', 'c_b', 'c_c', 'c_d']) api.upsert({ id, name: id, updated_at: at });
    let pages = 0;
    const summary = await run({
      onPage: () => {
        pages += 1;
        // After the first page, c_a changes: it leaves the group of that instant.
        if (pages === 1) api.upsert({ id: 'c_a', name: 'c_a changed' });
      },
    });
    for (const id of ['c_b', 'c_c', 'c_d']) expect((await store.get(id))?.customer.name, id).toBe(id);
    expect((await store.get('c_a'))?.customer.name).toBe('c_a changed');
    expect(summary.invalid).toBe(0);
  });

  test('a customer whose data is not a valid state is counted and skipped; the others are applied, the watermark moves on', async ({
    setup,
  }) => {
    const { api, store, run } = setup;
    api.upsert({ id: 'c_1', name: 'One' });
    api.upsert({ id: 'c_2', name: '' });
    api.upsert({ id: 'c_3', name: 'Three' });
    const first = await run();
    expect(first).toMatchObject({ seen: 3, applied: 2, invalid: 1 });
    expect((await store.get('c_3'))?.customer.name).toBe('Three');
    expect(await store.get('c_2')).toBeUndefined();
    // Again, from the watermark (a minute of overlap): nothing new, c_2 still reported.
    expect(await run()).toMatchObject({ applied: 0, invalid: 1 });
  });
});
