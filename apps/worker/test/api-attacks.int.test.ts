import { type EventType, type Family, queueNameOf } from '@flexprice/contracts';
import { currentCustomer, customerEvent, FAMILY_FIXTURES } from '@flexprice/contracts/fixtures';
import { createRedis, type RedisClient } from '@flexprice/runtime';
import { startFlexpriceApiStandIn, uniquePrefix } from '@flexprice/testing';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { describe, expect } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createEntityFetcher } from '../src/entities/fetcher.js';
import { createCustomerKeeper, createRouteKeeper } from '../src/entities/keepers.js';
import { runSync } from '../src/entities/reconciler.js';
import { syncFamily } from '../src/entities/sync.js';
import { createEntityMarks } from '../src/ordering/entity-marks.js';
import { createFlexpriceApi } from '../src/outbound/flexprice-api.js';
import { createForwardTargets } from '../src/outbound/forward-targets.js';
import { createForwarder } from '../src/outbound/forwarder.js';
import { enqueue, FORWARD_SECRET, settled, startForwardTarget, startTestWorker, targetTest } from './support.js';

// Attacks on the API-backed pipeline (issue 22) by a reviewer with a fresh context: each test
// reproduced a defect of the first version, and now holds its fix.

const KEY = 'test-api-key-0123456789';
const ENV = 'env_01K2ZQ0A1B2C3D4E5F6G7H8J9K';

function event(type: EventType, key: string, id: string): Record<string, unknown> {
  const fixtures = Object.values(FAMILY_FIXTURES).flat() as Record<string, unknown>[];
  const fixture = fixtures.find((f) => f.event_type === type) ?? fixtures.find((f) => key in f);
  const body = structuredClone(fixture ?? {}) as Record<string, Record<string, unknown>>;
  return { ...body, event_type: type, [key]: { ...body[key], id } };
}

const test = targetTest
  // biome-ignore lint/correctness/noEmptyPattern: vitest requires a destructuring pattern here.
  .extend('api', async ({}, { onCleanup }) => {
    const api = await startFlexpriceApiStandIn({ apiKey: KEY, environmentId: ENV });
    onCleanup(() => api.close());
    return api;
  });

async function apiWorker(redisUrl: string, env: Record<string, string>) {
  const worker = await startTestWorker(redisUrl, env);
  const queues = new Map<Family, Queue>();
  const queueOf = (family: Family) => {
    const queue =
      queues.get(family) ?? new Queue(queueNameOf(family), { connection: { url: redisUrl }, prefix: worker.prefix });
    queues.set(family, queue);
    return queue;
  };
  return Object.assign(worker, {
    queueOf,
    async closeAll() {
      await worker.close();
      for (const queue of queues.values()) await queue.close();
    },
  });
}

/** The receiving service of docs/extending.md: drops a repeated webhook-id, then an older version. */
function documentedService() {
  const seen = new Set<string>();
  let version = '';
  let clock = '';
  let body: unknown;
  return {
    // docs/extending.md#ordering: drop a repeated webhook-id; keep the highest version per clock,
    // a version on the `api` clock superseding any of another clock.
    take(headers: Record<string, unknown>, raw: string) {
      const id = String(headers['webhook-id']);
      if (seen.has(id)) return;
      seen.add(id);
      const v = String(headers['x-entity-version']);
      const c = String(headers['x-entity-version-clock'] ?? '');
      const newer = c === clock ? v > version : c === 'api';
      if (!newer) return;
      version = v;
      clock = c;
      body = JSON.parse(raw);
    },
    get version() {
      return version;
    },
    get body() {
      return body;
    },
  };
}

describe('webhook-id reused for a different API state', () => {
  test("a forward that timed out and is retried with a newer state read from the API carries that state's own webhook-id: a service that drops repeated ids applies it", async ({
    redis,
    api,
  }) => {
    const invoices = api.family('invoice');
    invoices.upsert({ id: 'inv_r1', invoice_status: 'FINALIZED', payment_status: 'PENDING' });
    const target = await startForwardTarget((n) => {
      // The first forward reaches the service (which applies it) but answers too late; meanwhile
      // the invoice is paid in Flexprice.
      if (n === 0) {
        invoices.upsert({ id: 'inv_r1', payment_status: 'SUCCEEDED' });
        return { status: 200, delayMs: 1_500 };
      }
      return { status: 200 };
    });
    const worker = await apiWorker(redis.url, {
      ENQUEUE_EVENTS: 'invoice.*',
      FORWARD_ROUTES: `invoice.*=${target.url}`,
      FORWARD_SECRET,
      FORWARD_TIMEOUT_MS: '500',
      FLEXPRICE_API_KEY: KEY,
      FLEXPRICE_API_URL: api.url,
    });
    try {
      const queue = worker.queueOf('invoice');
      const first = await settled(
        queue,
        await enqueue(queue, 'invoice.update.finalized', event('invoice.update.finalized', 'invoice', 'inv_r1')),
        20_000,
      );
      expect(first.state).toBe('completed');
      // The webhook of the payment arrives too: its job finds the paid state "already" forwarded.
      await settled(
        queue,
        await enqueue(queue, 'invoice.update.payment', event('invoice.update.payment', 'invoice', 'inv_r1')),
        20_000,
      );
      const service = documentedService();
      for (const r of target.received) service.take(r.headers as Record<string, unknown>, r.body);
      const sent = target.received.map((r) => ({
        id: r.headers['webhook-id'],
        version: r.headers['x-entity-version'],
        payment: (JSON.parse(r.body) as { invoice: { payment_status: string } }).invoice.payment_status,
      }));
      // What went out: two different states under one webhook-id.
      // The service that follows the docs must end on the state Flexprice has.
      expect((service.body as { invoice: { payment_status: string } }).invoice.payment_status).toBe('SUCCEEDED');
      // docs/extending.md: "A forward may still be repeated …: always with the same webhook-id and x-entity-version".
      const byId = new Map<unknown, Set<unknown>>();
      for (const s of sent) byId.set(s.id, new Set([...(byId.get(s.id) ?? []), s.version]));
      for (const versions of byId.values()) expect(versions.size).toBe(1);
    } finally {
      await worker.closeAll();
      await target.close();
    }
  });
});

/** A worker with a customer route and the API key, and what the customer route acknowledged. */
async function customerWorker(redisUrl: string, apiUrl: string, targetUrl: string, extra: Record<string, string> = {}) {
  return apiWorker(redisUrl, {
    CUSTOMER_FORWARD_URL: targetUrl,
    FLEXPRICE_API_KEY: KEY,
    FLEXPRICE_API_URL: apiUrl,
    FLEXPRICE_API_NOT_FOUND_CONFIRM_MS: '1000',
    ...extra,
  });
}

const customerBody = (id: string, type: 'customer.created' | 'customer.updated' = 'customer.updated') =>
  customerEvent(type, currentCustomer({ id, environment_id: ENV }));

describe('webhook-id reused for a different API state (Svix resend)', () => {
  test('a Svix message resent after the dedupe window goes out under the id of the state it read, not the old webhook-id', async ({
    redis,
    api,
    target,
  }) => {
    const worker = await customerWorker(redis.url, api.url, target.url);
    try {
      api.upsert({ id: 'cust_r5', name: 'First', environment_id: ENV });
      const key = 'id-msg_2Resend0000000000000000';
      await settled(
        worker.queue,
        await enqueue(worker.queue, 'customer.created', customerBody('cust_r5', 'customer.created'), { key }),
      );
      api.upsert({ id: 'cust_r5', name: 'Second' });
      // The portal resend of msg_2Resend… (PROCESSED/dedupe window over), then the webhook of the change.
      await settled(
        worker.queue,
        await enqueue(worker.queue, 'customer.created', customerBody('cust_r5', 'customer.created'), { key }),
      );
      await settled(worker.queue, await enqueue(worker.queue, 'customer.updated', customerBody('cust_r5')));
      const service = documentedService();
      for (const r of target.received) service.take(r.headers as Record<string, unknown>, r.body);
      expect((service.body as { customer: { name: string } }).customer.name).toBe('Second');
    } finally {
      await worker.closeAll();
    }
  });
});

describe('what is taken for "the API does not know the entity"', () => {
  test('a 2xx that is not an entity (an error envelope from a proxy) is a failed read, retried: never a 404, never a deletion', async ({
    redis,
    api,
    target,
  }) => {
    const worker = await customerWorker(redis.url, api.url, target.url);
    try {
      api.upsert({ id: 'cust_r2', name: 'Alive', environment_id: ENV });
      await settled(
        worker.queue,
        await enqueue(worker.queue, 'customer.created', customerBody('cust_r2', 'customer.created')),
      );
      // Two reads answered 200 `{"success":false,"error":{…}}` (not a customer, no id), 1 s apart.
      api.failNext(2, { status: 200, path: '/v1/customers/cust_r2' });
      await settled(worker.queue, await enqueue(worker.queue, 'customer.updated', customerBody('cust_r2')), 20_000);
      const types = target.received.map((r) => (JSON.parse(r.body) as { event_type: string }).event_type);
      // The customer exists and is published in Flexprice all along.
      expect(api.get('cust_r2')?.status ?? 'published').toBe('published');
      expect(types).not.toContain('customer.deleted');
      expect((await worker.store.get('cust_r2'))?.deleted).toBe(false);
    } finally {
      await worker.closeAll();
    }
  });

  test("a read that finds the entity clears the job's earlier 404: a later single 404 is not taken as confirmed", async ({
    redis,
    api,
    target,
  }) => {
    const worker = await customerWorker(redis.url, api.url, target.url);
    try {
      api.upsert({ id: 'cust_r3', name: 'Alive', environment_id: ENV });
      await settled(
        worker.queue,
        await enqueue(worker.queue, 'customer.created', customerBody('cust_r3', 'customer.created')),
      );
      api.upsert({ id: 'cust_r3', name: 'Renamed' });
      // The job: a passing 404 (read 1); 1 s later the customer (read 2), whose forward the
      // service answers 503 once; the retry's read gets one more passing 404 (read 3).
      api.failNext(1, { status: 404, path: '/v1/customers/cust_r3' });
      let failedOnce = false;
      target.setResponder((_n, body) => {
        if (!failedOnce && body.includes('Renamed')) {
          failedOnce = true;
          api.failNext(1, { status: 404, path: '/v1/customers/cust_r3' });
          return { status: 503 };
        }
        return { status: 200 };
      });
      await settled(
        worker.queue,
        await enqueue(worker.queue, 'customer.updated', customerBody('cust_r3'), { backoffMs: 1_500 }),
        20_000,
      );
      const types = target.received.map(
        (r) => `${r.status} ${(JSON.parse(r.body) as { event_type: string }).event_type}`,
      );
      // One 404 after a successful read is not "a second read, 1 s later, that is a 404 too".
      expect(types).not.toContain('200 customer.deleted');
      expect((await worker.store.get('cust_r3'))?.deleted).toBe(false);
    } finally {
      await worker.closeAll();
    }
  });

  test('a provisional tombstone is lifted by the live state of its very time, from the next webhook or a sync', async ({
    redis,
    api,
    target,
  }) => {
    const worker = await customerWorker(redis.url, api.url, target.url);
    try {
      api.upsert({ id: 'cust_r4', name: 'Alive', environment_id: ENV });
      await settled(
        worker.queue,
        await enqueue(worker.queue, 'customer.created', customerBody('cust_r4', 'customer.created')),
      );
      api.failNext(2, { status: 404, path: '/v1/customers/cust_r4' });
      await settled(worker.queue, await enqueue(worker.queue, 'customer.updated', customerBody('cust_r4')), 20_000);
      // The gateway is fine again; the API answers the customer, live and unchanged.
      await settled(worker.queue, await enqueue(worker.queue, 'customer.updated', customerBody('cust_r4')), 20_000);
      // And the reconciler, from the start.
      const connection: RedisClient = createRedis({ mode: 'standalone', url: redis.url }, 'consumer');
      await syncFamily({
        api: createFlexpriceApi({ url: api.url, key: KEY, timeoutMs: 2_000 }),
        family: 'customer',
        keeper: createCustomerKeeper({
          store: worker.store,
          forward: {
            send: createForwarder({ url: target.url, secrets: [FORWARD_SECRET], timeoutMs: 2_000 }),
            timeoutMs: 2_000,
            takes: () => true,
          },
        }),
        redis: connection,
        prefix: `${worker.prefix}-store`,
        log: pino({ level: 'silent' }),
        since: '2020-01-01T00:00:00Z',
      }).finally(() => connection.disconnect());
      const types = target.received.map((r) => (JSON.parse(r.body) as { event_type: string }).event_type);
      expect(types.at(-1)).not.toBe('customer.deleted');
      expect((await worker.store.get('cust_r4'))?.deleted).toBe(false);
    } finally {
      await worker.closeAll();
    }
  });
});

describe('the reconciler', () => {
  test('wallets (no updated_at filter) are walked in order of creation: one updated during the walk does not make another be skipped, nor the watermark pass it', async ({
    redis,
    api,
    target,
  }) => {
    const connection: RedisClient = createRedis({ mode: 'standalone', url: redis.url }, 'consumer');
    try {
      const prefix = uniquePrefix('r22');
      const wallets = api.family('wallet');
      for (const [i, id] of ['w_a', 'w_b', 'w_c', 'w_d'].entries()) {
        wallets.upsert({ id, name: id, updated_at: `2026-11-20T10:00:0${i}.000001Z` });
      }
      const marks = createEntityMarks(connection, { prefix, deliveryPinTtlSeconds: 60, markTtlSeconds: 3600 });
      const forward = {
        send: createForwarder({ url: target.url, secrets: [FORWARD_SECRET], timeoutMs: 2_000 }),
        timeoutMs: 2_000,
        takes: () => true,
      };
      let pages = 0;
      const run = (onPage?: () => void) =>
        syncFamily({
          api: createFlexpriceApi({ url: api.url, key: KEY, timeoutMs: 2_000 }),
          family: 'wallet',
          keeper: createRouteKeeper({ family: 'wallet', marks, url: target.url, target: forward }),
          redis: connection,
          prefix,
          log: pino({ level: 'silent' }),
          pageSize: 2,
          onPage,
        });
      await run(() => {
        pages += 1;
        // A top-up on w_a while the walk is on its second page.
        if (pages === 1) wallets.upsert({ id: 'w_a', name: 'w_a topped up' });
      });
      // The next scheduled run, from the watermark.
      await run();
      const forwarded = new Set(
        target.received.map((r) => (JSON.parse(r.body) as { wallet: { id: string } }).wallet.id),
      );
      expect([...forwarded].sort()).toEqual(['w_a', 'w_b', 'w_c', 'w_d']);
    } finally {
      connection.disconnect();
    }
  });

  test('two routes for one family (invoice.update.finalized=A, invoice.update.payment=B): the sync sends each route a state as an event it takes, B its missed payment', async ({
    redis,
    api,
  }) => {
    const a = await startForwardTarget();
    const b = await startForwardTarget();
    const connection: RedisClient = createRedis({ mode: 'standalone', url: redis.url }, 'consumer');
    try {
      const prefix = uniquePrefix('r22');
      const config = loadConfig({
        REDIS_URL: redis.url,
        QUEUE_PREFIX: prefix,
        STORE_PREFIX: `${prefix}-store`,
        ENQUEUE_EVENTS: 'invoice.update.finalized,invoice.update.payment',
        FORWARD_ROUTES: `invoice.update.finalized=${a.url} invoice.update.payment=${b.url}`,
        FORWARD_SECRET,
        FLEXPRICE_API_KEY: KEY,
        FLEXPRICE_API_URL: api.url,
      });
      if (!config.api) throw new Error('no api config');
      // An invoice paid in Flexprice whose invoice.update.payment webhook never arrived.
      api.family('invoice').upsert({ id: 'inv_missed', invoice_status: 'FINALIZED', payment_status: 'SUCCEEDED' });
      const targets = createForwardTargets(config.routes, config.forward);
      await runSync({
        families: ['invoice'],
        deps: {
          api: createFlexpriceApi(config.api),
          customers: createCustomerKeeper({
            store: (await import('../src/ordering/customer-store.js')).createCustomerStore(connection, config.store),
            forward: undefined,
          }),
          marks: createEntityMarks(connection, {
            prefix: config.store.prefix,
            deliveryPinTtlSeconds: 60,
            markTtlSeconds: 3600,
          }),
          routes: targets.routes,
        },
        redis: connection,
        prefix: config.store.prefix,
        log: pino({ level: 'silent' }),
      });
      const typesAt = (t: typeof a) => t.received.map((r) => String(r.headers['x-flexprice-event-type']));
      // A's route claims invoice.update.finalized only.
      for (const type of typesAt(a)) expect(type).toBe('invoice.update.finalized');
      // B, whose route takes the payments, gets the paid invoice the webhook never brought.
      expect(typesAt(b)).toContain('invoice.update.payment');
    } finally {
      connection.disconnect();
      await a.close();
      await b.close();
    }
  });
});

describe('soft-deleted entities, by load', () => {
  test('a soft-deleted subscription ends the same read alone (GET 404, then the archived search) as in a batch', async ({
    redis,
    api,
  }) => {
    const subs = api.family('subscription');
    for (const id of ['subs_alone', 'subs_b1', 'subs_b2']) {
      subs.upsert({ id });
      subs.archive(id);
    }
    // What the jobs' fetcher does under load: two jobs waiting, one search.
    const client = createFlexpriceApi({ url: api.url, key: KEY, timeoutMs: 2_000 });
    const fetcher = createEntityFetcher(client, 'subscription', { readingJobs: () => 2 });
    const batched = await Promise.all(['subs_b1', 'subs_b2'].map((id) => fetcher.fetch(id)));
    expect(batched.map((e) => e?.status)).toEqual(['archived', 'archived']);

    // One job alone, as when events come one at a time.
    const routes = await startForwardTarget();
    const worker = await apiWorker(redis.url, {
      ENQUEUE_EVENTS: 'subscription.*',
      FORWARD_ROUTES: `subscription.*=${routes.url}`,
      FORWARD_SECRET,
      FLEXPRICE_API_KEY: KEY,
      FLEXPRICE_API_URL: api.url,
      FLEXPRICE_API_NOT_FOUND_CONFIRM_MS: '1000',
    });
    try {
      const queue = worker.queueOf('subscription');
      const alone = await settled(
        queue,
        await enqueue(queue, 'subscription.updated', event('subscription.updated', 'subscription', 'subs_alone')),
        20_000,
      );
      // The same entity in the same state must end the same way, whatever the load.
      expect(alone.state).toBe('completed');
    } finally {
      await worker.closeAll();
      await routes.close();
    }
  });
});

describe('payments have no status in their JSON', () => {
  test('a payment listed only as archived (its JSON has no status) is forwarded by the sync as a deletion, a tombstone', async ({
    redis,
    api,
    target,
  }) => {
    const connection: RedisClient = createRedis({ mode: 'standalone', url: redis.url }, 'consumer');
    try {
      const prefix = uniquePrefix('r22');
      api.family('payment').upsert({ id: 'pay_deleted' });
      api.family('payment').archive('pay_deleted');
      const marks = createEntityMarks(connection, { prefix, deliveryPinTtlSeconds: 60, markTtlSeconds: 3600 });
      const forward = {
        send: createForwarder({ url: target.url, secrets: [FORWARD_SECRET], timeoutMs: 2_000 }),
        timeoutMs: 2_000,
        takes: () => true,
      };
      await syncFamily({
        api: createFlexpriceApi({ url: api.url, key: KEY, timeoutMs: 2_000 }),
        family: 'payment',
        keeper: createRouteKeeper({ family: 'payment', marks, url: target.url, target: forward }),
        redis: connection,
        prefix,
        log: pino({ level: 'silent' }),
      });
      const sent = target.received.map((r) => ({
        type: r.headers['x-flexprice-event-type'],
        version: r.headers['x-entity-version'],
        body: JSON.parse(r.body) as { payment: Record<string, unknown> },
      }));
      expect(sent).toHaveLength(1);
      // Soft-deleted: a deletion (version "1.…"), or at least a body that says so.
      expect(String(sent[0]?.version).startsWith('1.') || sent[0]?.body.payment.status === 'archived').toBe(true);
    } finally {
      connection.disconnect();
    }
  });
});

describe('announcements beside API states', () => {
  const invoiceBody = (type: EventType, fields: Record<string, unknown>) => {
    const body = event(type, 'invoice', 'inv_o') as { invoice: Record<string, unknown> };
    return { ...body, invoice: { ...body.invoice, ...fields } };
  };

  for (const mode of ['webhook-only', 'API-backed'] as const) {
    test(`${mode}: an invoice.payment.overdue retried late, carrying an invoice older than one the route acknowledged, does not put that older state back`, async ({
      redis,
      api,
    }) => {
      const routes = await startForwardTarget();
      const worker = await apiWorker(redis.url, {
        ENQUEUE_EVENTS: 'invoice.*',
        FORWARD_ROUTES: `invoice.*=${routes.url}`,
        FORWARD_SECRET,
        ...(mode === 'API-backed' && { FLEXPRICE_API_KEY: KEY, FLEXPRICE_API_URL: api.url }),
      });
      try {
        const paidAt = '2026-08-20T11:00:00.000001Z';
        api.family('invoice').upsert({ id: 'inv_o', payment_status: 'SUCCEEDED', updated_at: paidAt });
        const queue = worker.queueOf('invoice');
        await settled(
          queue,
          await enqueue(
            queue,
            'invoice.update.payment',
            invoiceBody('invoice.update.payment', { payment_status: 'SUCCEEDED', updated_at: paidAt }),
          ),
        );
        // Svix retries the overdue notice built before the payment: the invoice as it was then.
        await settled(
          queue,
          await enqueue(
            queue,
            'invoice.payment.overdue',
            invoiceBody('invoice.payment.overdue', {
              payment_status: 'PENDING',
              updated_at: '2026-08-20T10:05:00.456Z',
            }),
          ),
        );
        const sent = routes.received.map((r) => ({
          type: r.headers['x-flexprice-event-type'],
          clock: r.headers['x-entity-version-clock'],
          payment: (JSON.parse(r.body) as { invoice: { payment_status: string } }).invoice.payment_status,
        }));
        // The invoice the route holds must not go back from SUCCEEDED to PENDING.
        expect(sent.at(-1)?.payment).toBe('SUCCEEDED');
      } finally {
        await worker.closeAll();
        await routes.close();
      }
    });
  }
});

describe('an API read behind the webhook', () => {
  test("an API read older than the webhook body's own time (a replica behind) is read again, never forwarded: the newer state goes out", async ({
    redis,
    api,
  }) => {
    const routes = await startForwardTarget();
    const worker = await apiWorker(redis.url, {
      ENQUEUE_EVENTS: 'invoice.*',
      FORWARD_ROUTES: `invoice.*=${routes.url}`,
      FORWARD_SECRET,
      FLEXPRICE_API_KEY: KEY,
      FLEXPRICE_API_URL: api.url,
    });
    try {
      // The replica the API reads from still has the finalized invoice…
      api
        .family('invoice')
        .upsert({ id: 'inv_lag', payment_status: 'PENDING', updated_at: '2026-08-20T10:05:00.456Z' });
      const queue = worker.queueOf('invoice');
      const body = event('invoice.update.payment', 'invoice', 'inv_lag') as { invoice: Record<string, unknown> };
      // … while Flexprice's webhook was built from the primary: paid, at 10:06.
      const paid = {
        ...body,
        invoice: { ...body.invoice, payment_status: 'SUCCEEDED', updated_at: '2026-08-20T10:06:00.000001Z' },
      };
      const queued = await enqueue(queue, 'invoice.update.payment', paid, { backoffMs: 300 });
      // The replica catches up a moment after the job's first read; no further webhook comes (the
      // one that said so was acknowledged).
      await expect.poll(() => api.calls.filter((c) => c.path.includes('inv_lag')).length).toBeGreaterThan(0);
      api
        .family('invoice')
        .upsert({ id: 'inv_lag', payment_status: 'SUCCEEDED', updated_at: '2026-08-20T10:06:00.000001Z' });
      const job = await settled(queue, queued);
      const sent = routes.received.map(
        (r) => (JSON.parse(r.body) as { invoice: { payment_status: string } }).invoice.payment_status,
      );
      // The read behind is read again, not forwarded: only the paid invoice goes out.
      expect(sent).toEqual(['SUCCEEDED']);
      expect(job.state).toBe('completed');
    } finally {
      await worker.closeAll();
      await routes.close();
    }
  });
});

describe('switching the key on', () => {
  test('customers: switching the key on heals a stale webhook-era state at a service that follows the documented rule (per clock; the api clock supersedes)', async ({
    redis,
    api,
    target,
  }) => {
    const prefix = uniquePrefix('r22sw');
    const shared = { QUEUE_PREFIX: prefix, STORE_PREFIX: `${prefix}-store`, CUSTOMER_FORWARD_URL: target.url };
    // Flexprice's customer, as it is since an hour ago.
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString().replace('Z', '000Z');
    api.upsert({ id: 'cust_sw', name: 'Current', environment_id: ENV, updated_at: hourAgo });
    // Webhook-only: a Svix retry of old content (trimmed payload, no updated_at) is accepted now.
    const queue = new Queue(queueNameOf('customer'), { connection: { url: redis.url }, prefix });
    const before = await apiWorker(redis.url, shared);
    try {
      await settled(
        queue,
        await enqueue(
          queue,
          'customer.updated',
          customerEvent('customer.updated', currentCustomer({ id: 'cust_sw', name: 'Stale', environment_id: ENV })),
        ),
      );
    } finally {
      await before.closeAll();
    }
    // The key is switched on: the next webhook's job reads the API.
    const after = await apiWorker(redis.url, { ...shared, FLEXPRICE_API_KEY: KEY, FLEXPRICE_API_URL: api.url });
    try {
      await settled(queue, await enqueue(queue, 'customer.updated', customerBody('cust_sw')));
      expect((await after.store.get('cust_sw'))?.customer.name).toBe('Current');
    } finally {
      await after.closeAll();
      await queue.close();
    }
    const service = documentedService();
    for (const r of target.received) service.take(r.headers as Record<string, unknown>, r.body);
    expect((service.body as { customer: { name: string } }).customer.name).toBe('Current');
  });
});
