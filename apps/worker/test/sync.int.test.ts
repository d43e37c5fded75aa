import { createRedis, type RedisClient } from '@flexprice/runtime';
import {
  redisTest,
  startFlexpriceApiStandIn,
  startForwardTarget,
  TEST_OTHER_SECRET,
  uniquePrefix,
} from '@flexprice/testing';
import { pino } from 'pino';
import { describe, expect } from 'vitest';
import { createCustomerKeeper, createRouteKeeper, type ForwardTarget } from '../src/entities/keepers.js';
import { syncFamily } from '../src/entities/sync.js';
import { createCustomerStore } from '../src/ordering/customer-store.js';
import { createEntityMarks } from '../src/ordering/entity-marks.js';
import { createFlexpriceApi } from '../src/outbound/flexprice-api.js';
import { createForwarder } from '../src/outbound/forwarder.js';

// The reconciler itself, in-process, with small pages: how it pages and what it skips.

const KEY = 'test-api-key-0123456789';

const test = redisTest.extend('setup', async ({ redis }, { onCleanup }) => {
  const api = await startFlexpriceApiStandIn({ apiKey: KEY });
  const target = await startForwardTarget();
  const connection: RedisClient = createRedis({ mode: 'standalone', url: redis.url }, 'consumer');
  onCleanup(async () => {
    connection.disconnect();
    await Promise.all([api.close(), target.close()]);
  });
  const prefix = uniquePrefix('sync');
  const store = createCustomerStore(connection, { prefix, deliveryPinTtlSeconds: 60 });
  type Options = Parameters<typeof syncFamily>[0];
  const run = ({ forward, ...extra }: Partial<Options> & { forward?: ForwardTarget } = {}) =>
    syncFamily({
      api: createFlexpriceApi({ url: api.url, key: KEY, timeoutMs: 2_000 }),
      family: 'customer',
      keeper: createCustomerKeeper({ store, forward }),
      redis: connection,
      prefix,
      log: pino({ level: 'silent' }),
      pageSize: 2,
      ...extra,
    });
  const forward = {
    send: createForwarder({ url: target.url, secrets: [TEST_OTHER_SECRET], timeoutMs: 2_000 }),
    timeoutMs: 2_000,
    takes: () => true,
  };
  const watermark = () => connection.get(`${prefix}:sync:watermark:published`);
  return { api, store, run, target, forward, watermark, connection, prefix };
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

  test('an entity that is not a valid state (no updated_at to order it by) is counted and skipped; the others are applied, the watermark moves on', async ({
    setup,
  }) => {
    // Wallets: their search cannot filter on updated_at, so the walk lists one without it too.
    const { api, connection, prefix, forward, target } = setup;
    const wallets = api.family('wallet');
    wallets.upsert({ id: 'w_1', name: 'One' });
    wallets.upsert({ id: 'w_2', name: 'No time', updated_at: '' });
    wallets.upsert({ id: 'w_3', name: 'Three' });
    const marks = createEntityMarks(connection, { prefix, deliveryPinTtlSeconds: 60, markTtlSeconds: 3600 });
    const run = () =>
      syncFamily({
        api: createFlexpriceApi({ url: api.url, key: KEY, timeoutMs: 2_000 }),
        family: 'wallet',
        keeper: createRouteKeeper({ family: 'wallet', marks, url: target.url, target: forward }),
        redis: connection,
        prefix,
        log: pino({ level: 'silent' }),
        pageSize: 2,
      });
    expect(await run()).toMatchObject({ seen: 3, applied: 2, forwarded: 2, invalid: 1 });
    const sent = target.received.map((r) => JSON.parse(r.body) as { event_type: string; wallet: { id: string } });
    expect(sent.map((b) => `${b.event_type} ${b.wallet.id}`).sort()).toEqual([
      'wallet.updated w_1',
      'wallet.updated w_3',
    ]);
    // Again, from the watermark (a minute of overlap): nothing new, w_2 still reported.
    expect(await run()).toMatchObject({ applied: 0, forwarded: 0, invalid: 1 });
  });

  test('a customer the target refuses for good is stored, counted and logged; the run goes on; a later run forwards it once the target takes it', async ({
    setup,
  }) => {
    const { api, store, run, target, forward } = setup;
    api.upsert({ id: 'c_refused', name: 'Refused', updated_at: '2026-11-20T10:00:00.000001Z' });
    api.upsert({ id: 'c_after', name: 'After', updated_at: '2026-11-20T11:00:00.000001Z' });
    api.upsert({ id: 'c_later', name: 'Later', updated_at: '2026-11-20T12:00:00.000001Z' });
    target.setResponder((_n, body) => ({ status: body.includes('c_refused') ? 400 : 200 }));
    const lines: string[] = [];
    const log = pino({ level: 'error' }, { write: (line: string) => lines.push(line) });
    const forwardedIds = () =>
      target.received.filter((r) => r.status === 200).map((r) => JSON.parse(r.body).customer.id as string);

    let counted = 0;
    const first = await run({ forward, log, onRefused: () => (counted += 1) });
    expect(first).toMatchObject({ seen: 3, applied: 3, forwarded: 2, refused: 1 });
    expect(counted).toBe(1);
    expect(forwardedIds()).toEqual(['c_after', 'c_later']);
    expect((await store.get('c_refused'))?.customer.name).toBe('Refused');
    expect(lines.map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({ entityId: 'c_refused', msg: expect.stringContaining('refused') }),
    ]);

    target.setResponder(() => ({ status: 200 }));
    const again = await run({ forward, log, since: '2026-11-20T00:00:00Z' });
    expect(again).toMatchObject({ seen: 3, applied: 0, unchanged: 3, forwarded: 1, refused: 0 });
    expect(forwardedIds()).toEqual(['c_after', 'c_later', 'c_refused']);
  });

  test.for([401, 404, 302])(
    'a target that answers %i to every customer ends the run: the watermark stays before them',
    async (status, { setup }) => {
      const { api, run, target, forward, watermark } = setup;
      for (const [id, hour] of [
        ['c_1', 10],
        ['c_2', 11],
        ['c_3', 12],
      ] as const) {
        api.upsert({ id, name: id, updated_at: `2026-11-20T${hour}:00:00.000001Z` });
      }
      const headers: Record<string, string> = status === 302 ? { location: '/elsewhere' } : {};
      target.setResponder(() => ({ status, headers }));
      await expect(run({ forward })).rejects.toThrow(`answered ${status}`);
      expect(target.received).toHaveLength(1);
      expect(await watermark()).toBeNull();
    },
  );

  test('a --since run behind the watermark, cut off midway, leaves it where it was', async ({ setup }) => {
    const { api, run, watermark } = setup;
    for (const [id, day] of [
      ['c_1', 18],
      ['c_2', 19],
      ['c_3', 20],
      ['c_new', 21],
    ] as const) {
      api.upsert({ id, name: id, updated_at: `2026-11-${day}T10:00:00.000001Z` });
    }
    await run();
    expect(await watermark()).toBe('2026-11-21T10:00:00.000001Z');
    // Pages of 2: the first ends at c_2, the second fails.
    const real = createFlexpriceApi({ url: api.url, key: KEY, timeoutMs: 2_000 });
    let pages = 0;
    const failing = {
      ...real,
      page: async (...args: Parameters<typeof real.page>) => {
        pages += 1;
        if (pages === 2) throw new Error('the API went away');
        return real.page(...args);
      },
    };
    await expect(run({ api: failing, since: '2026-11-01T00:00:00Z' })).rejects.toThrow('went away');
    expect(pages).toBe(2);
    expect(await watermark()).toBe('2026-11-21T10:00:00.000001Z');
  });

  test('a --since run after the watermark leaves it: the next run still reads the gap', async ({ setup }) => {
    const { api, store, run, watermark } = setup;
    api.upsert({ id: 'c_first', name: 'First', updated_at: '2026-11-20T10:00:00.000001Z' });
    await run();
    expect(await watermark()).toBe('2026-11-20T10:00:00.000001Z');
    api.upsert({ id: 'c_gap', name: 'In the gap', updated_at: '2026-11-22T10:00:00.000001Z' });
    api.upsert({ id: 'c_late', name: 'Late', updated_at: '2026-11-25T10:00:00.000001Z' });
    expect(await run({ since: '2026-11-24T00:00:00Z' })).toMatchObject({ seen: 1, applied: 1 });
    expect(await watermark()).toBe('2026-11-20T10:00:00.000001Z');
    await run();
    expect((await store.get('c_gap'))?.customer.name).toBe('In the gap');
    expect(await watermark()).toBe('2026-11-25T10:00:00.000001Z');
  });
});
