import { currentCustomer, customerEvent } from '@flexprice/contracts/fixtures';
import {
  type FlexpriceApiStandIn,
  redisTest,
  runNode,
  startFlexpriceApiStandIn,
  TEST_OTHER_SECRET,
} from '@flexprice/testing';
import { Redis } from 'ioredis';
import { describe, expect } from 'vitest';
import {
  CUSTOMERS_CLI,
  postWebhook,
  type System,
  startSystem,
  startWorkerProcess,
  storedCustomer,
} from './system-support.js';

// Flexprice's API as the source of truth, with the built processes: the key check at start, the
// reconciler from the command line and on a schedule, and a whole system healing lost webhooks.

const KEY = 'test-api-key-0123456789';
const ENV = 'env_01STANDIN0000000000000000';

const test = redisTest
  // biome-ignore lint/correctness/noEmptyPattern: vitest requires a destructuring pattern here.
  .extend('api', async ({}, { onCleanup }) => {
    const api = await startFlexpriceApiStandIn({ apiKey: KEY, environmentId: ENV });
    onCleanup(() => api.close());
    return api;
  })
  .extend('system', async ({ redis, api }, { onCleanup }) => {
    const system = await startSystem(redis, { FLEXPRICE_API_KEY: KEY, FLEXPRICE_API_URL: api.url });
    const client = new Redis(redis.url);
    onCleanup(async () => {
      client.disconnect();
      await system.close();
    });
    return Object.assign(system, { client });
  });

type Sys = System & { client: Redis };

const stored = (system: Sys, id: string) => storedCustomer(system.client, system.env.STORE_PREFIX, id);

/** The last state the target acknowledged per customer. */
function acknowledged(system: System): Map<string, { name: string; deleted: boolean }> {
  const last = new Map<string, { name: string; deleted: boolean }>();
  for (const request of system.target.received) {
    if (request.status !== 200) continue;
    const body = JSON.parse(request.body) as { event_type: string; customer: { id: string; name: string } };
    last.set(body.customer.id, { name: body.customer.name, deleted: body.event_type === 'customer.deleted' });
  }
  return last;
}

async function sync(system: Sys, api: FlexpriceApiStandIn, args: string[] = []) {
  const proc = runNode(
    CUSTOMERS_CLI,
    {
      ...system.env,
      FLEXPRICE_API_KEY: KEY,
      FLEXPRICE_API_URL: api.url,
      CUSTOMER_FORWARD_URL: system.target.url,
      CUSTOMER_FORWARD_SECRET: TEST_OTHER_SECRET,
    },
    ['sync', ...args],
  );
  const code = await proc.exited;
  const output = proc.output();
  const summary = /\{[\s\S]*\}\s*$/.exec(output)?.[0];
  return { code, output, summary: summary ? (JSON.parse(summary) as Record<string, number | boolean>) : undefined };
}

describe('the key check at start', () => {
  test('a refused FLEXPRICE_API_KEY stops the worker before any job, naming the variable', async ({ system, api }) => {
    const worker = await startWorkerProcess(
      { ...system.env, FLEXPRICE_API_KEY: 'a-wrong-key-000', FLEXPRICE_API_URL: api.url },
      system.target.url,
    );
    expect(await worker.exited).toBe(1);
    expect(worker.output()).toMatch(/FLEXPRICE_API_KEY: Flexprice's API refused FLEXPRICE_API_KEY \(401\)/);
  });
});

describe('pnpm customers sync', () => {
  test('heals what no webhook said: a customer created, one changed, one deleted; a second run finds nothing new', {
    // Three CLI runs of a built process each: well over the default on a busy two-core machine.
    timeout: 60_000,
  }, async ({ system, api }) => {
    api.upsert({ id: 'cust_new', name: 'Never notified' });
    api.upsert({ id: 'cust_del', name: 'To be deleted' });
    const first = await sync(system, api);
    expect(first.code).toBe(0);
    expect(first.summary).toMatchObject({ seen: 2, applied: 2, forwarded: 2, dryRun: false });
    expect(await stored(system, 'cust_new')).toEqual({ name: 'Never notified', deleted: false });

    api.upsert({ id: 'cust_new', name: 'Changed' });
    api.archive('cust_del');
    const dry = await sync(system, api, ['--dry-run']);
    expect(dry.summary).toMatchObject({ applied: 2, dryRun: true });
    expect(await stored(system, 'cust_new')).toEqual({ name: 'Never notified', deleted: false });

    const second = await sync(system, api);
    expect(second.summary).toMatchObject({ applied: 2, forwarded: 2 });
    expect(await stored(system, 'cust_new')).toEqual({ name: 'Changed', deleted: false });
    expect(await stored(system, 'cust_del')).toEqual({ deleted: true });
    expect(acknowledged(system).get('cust_del')).toEqual({ name: 'To be deleted', deleted: true });

    // From the watermarks (less a minute of overlap): what is read again is unchanged.
    const third = await sync(system, api);
    expect(third.summary).toMatchObject({ applied: 0, forwarded: 0, invalid: 0 });
    expect(third.summary?.unchanged).toBe(third.summary?.seen);
  });

  test('pages by keyset: more customers than a page, several sharing one updated_at, none skipped', async ({
    system,
    api,
  }) => {
    const at = '2026-11-20T10:00:00.000001Z';
    for (let i = 0; i < 1_200; i += 1) {
      api.upsert({ id: `cust_p${String(i).padStart(4, '0')}`, name: `P${i}`, ...(i < 700 && { updated_at: at }) });
    }
    const run = await sync(system, api);
    expect(run.summary).toMatchObject({ applied: 1_200 });
    for (const i of [0, 499, 500, 699, 700, 1_199]) {
      expect((await stored(system, `cust_p${String(i).padStart(4, '0')}`))?.name).toBe(`P${i}`);
    }
  });

  test('needs FLEXPRICE_API_KEY, and says so', async ({ system }) => {
    const proc = runNode(CUSTOMERS_CLI, system.env, ['sync']);
    expect(await proc.exited).toBe(2);
    expect(proc.output()).toContain('set FLEXPRICE_API_KEY');
  });
});

describe("Flexprice's API answering 404 for a customer that exists", () => {
  test('one 404 deletes nothing; two, far enough apart, are a provisional tombstone that the sync lifts once the API shows the customer again', {
    timeout: 60_000,
  }, async ({ system, api }) => {
    const receiver = await system.receiver();
    await system.worker({ FLEXPRICE_API_NOT_FOUND_CONFIRM_MS: '1000' });
    const id = 'cust_flaky';
    const notify = async (type: 'customer.created' | 'customer.updated', jobs: number) => {
      const body = customerEvent(
        type,
        currentCustomer({ id, name: 'body', external_id: `ext-${id}`, environment_id: ENV }),
      );
      expect((await postWebhook(receiver.port, body, 'signed')).status).toBe(202);
      await expect
        .poll(async () => (await system.queue.getJobCounts('completed')).completed, { timeout: 15_000 })
        .toBe(jobs);
    };
    api.upsert({ id, name: 'Alive' });
    await notify('customer.created', 1);
    // A gateway answers 404 once: the job reads again, and the customer stays.
    api.upsert({ id, name: 'Still alive' });
    api.failNext(1, { status: 404, path: `/v1/customers/${id}` });
    await notify('customer.updated', 2);
    expect(await stored(system, id)).toEqual({ name: 'Still alive', deleted: false });
    expect(acknowledged(system).get(id)).toEqual({ name: 'Still alive', deleted: false });

    // Gone from the API (by id and by search), read twice a second apart: acted on, provisionally.
    const held = api.get(id);
    api.family('customer').remove(id);
    await notify('customer.updated', 3);
    expect(await stored(system, id)).toEqual({ deleted: true });
    expect(acknowledged(system).get(id)?.deleted).toBe(true);
    // The API has it again, as it was: the 404s lied. The sync lifts the tombstone, with a version
    // after the deletion's, in the store and at the target ...
    api.upsert({ ...held, id, updated_at: held?.updated_at });
    const revived = await sync(system, api);
    expect(revived.summary).toMatchObject({ applied: 1, forwarded: 1 });
    expect(await stored(system, id)).toEqual({ name: 'Still alive', deleted: false });
    expect(acknowledged(system).get(id)).toEqual({ name: 'Still alive', deleted: false });
    // ... once: a second run finds nothing to do.
    expect((await sync(system, api)).summary).toMatchObject({ applied: 0, forwarded: 0 });
    // A later state goes the usual way.
    api.upsert({ id, name: 'Back' });
    const healed = await sync(system, api);
    expect(healed.summary).toMatchObject({ applied: 1, forwarded: 1 });
    expect(await stored(system, id)).toEqual({ name: 'Back', deleted: false });
    expect(acknowledged(system).get(id)).toEqual({ name: 'Back', deleted: false });
  });
});

describe('the scheduled sync', () => {
  test('CUSTOMER_SYNC_INTERVAL with 3 workers: one run per interval, not one per worker', { timeout: 60_000 }, async ({
    system,
    api,
  }) => {
    api.upsert({ id: 'cust_sched', name: 'Scheduled' });
    await Promise.all([1, 2, 3].map(() => system.worker({ CUSTOMER_SYNC_INTERVAL: '10s' })));
    await expect
      .poll(() => stored(system, 'cust_sched'), { timeout: 30_000, interval: 200 })
      .toEqual({
        name: 'Scheduled',
        deleted: false,
      });
    // A run walks published customers, then archived ones: the customer is stored before the run
    // reaches its archived walk, so wait for that walk rather than read it at once.
    const runs = () => api.calls.filter((c) => (c.body as { status?: string } | null)?.status === 'archived').length;
    await expect.poll(runs, { timeout: 5_000, interval: 100 }).toBe(1);
    // The next interval: one more run, whatever the number of workers.
    await expect.poll(runs, { timeout: 15_000, interval: 200 }).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(runs()).toBe(2);
  });
});

describe('a whole system healing lost webhooks', () => {
  test('receiver + 3 workers + the API: 1,000 changes, webhooks in random order, late or lost; after one sync every customer equals the API', {
    timeout: 120_000,
  }, async ({ system, api }) => {
    const receiver = await system.receiver();
    await Promise.all([1, 2, 3].map(() => system.worker({ WORKER_CONCURRENCY: '32' })));
    // 200 customers changed 5 times in the API (every tenth then deleted), one webhook per change,
    // whose body is that change's state. Each round's webhooks go out in random order; one in ten
    // is lost, one in five held back and delivered rounds later (a stale body arriving late); the
    // last 5 customers are never notified at all.
    type Hook = { type: 'customer.created' | 'customer.updated' | 'customer.deleted'; id: string; name: string };
    const send = async (hooks: Hook[]) => {
      for (let i = 0; i < hooks.length; i += 25) {
        await Promise.all(
          hooks.slice(i, i + 25).map(async ({ type, id, name }) => {
            const body = customerEvent(
              type,
              currentCustomer({ id, name, external_id: `ext-${id}`, environment_id: ENV }),
            );
            expect((await postWebhook(receiver.port, body, 'signed')).status).toBe(202);
          }),
        );
      }
    };
    const drained = () =>
      expect
        .poll(
          async () => {
            const c = await system.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
            return Object.values(c).reduce((a, b) => a + b, 0);
          },
          { timeout: 60_000, interval: 200 },
        )
        .toBe(0);
    let late: Hook[] = [];
    let sent = 0;
    for (let v = 0; v < 5; v += 1) {
      const round: Hook[] = [];
      for (let c = 0; c < 200; c += 1) {
        const id = `cust_sys_${c}`;
        const name = `${id} v${v}`;
        api.upsert({ id, name });
        if (c < 195) round.push({ type: v === 0 ? 'customer.created' : 'customer.updated', id, name });
        if (v === 4 && c % 10 === 0) {
          api.archive(id);
          if (c < 195) round.push({ type: 'customer.deleted', id, name });
        }
      }
      const shuffled = round
        .map((w) => ({ w, r: Math.random() }))
        .sort((a, b) => a.r - b.r)
        .map(({ w }) => w);
      const now = shuffled.filter((_, i) => i % 10 !== 3 && i % 5 !== 1);
      const held = shuffled.filter((_, i) => i % 5 === 1);
      const batch = [...now, ...late];
      late = held;
      sent += batch.length;
      await send(batch);
      await drained();
    }
    await send(late);
    sent += late.length;
    await drained();
    expect(sent).toBeGreaterThan(700);
    expect((await system.queue.getJobCounts('failed')).failed).toBe(0);

    const run = await sync(system, api);
    expect(run.code).toBe(0);
    const wrong: string[] = [];
    const target = acknowledged(system);
    for (const customer of api.all()) {
      const expected = { name: customer.name, deleted: customer.status === 'archived' };
      const inStore = await stored(system, customer.id);
      // (A tombstone keeps no name.)
      if (JSON.stringify(inStore) !== JSON.stringify(expected.deleted ? { deleted: true } : expected))
        wrong.push(`${customer.id}: store ${JSON.stringify(inStore)}`);
      const atTarget = target.get(customer.id);
      if (JSON.stringify(atTarget) !== JSON.stringify(expected))
        wrong.push(`${customer.id}: target ${JSON.stringify(atTarget)}`);
    }
    expect(wrong).toEqual([]);
  });
});
