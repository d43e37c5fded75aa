import { currentCustomer, customerEvent } from '@flexprice/contracts/fixtures';
import { metricValue, startFlexpriceApiStandIn } from '@flexprice/testing';
import { describe, expect } from 'vitest';
import { enqueue, settled, startTestWorker, targetTest } from './support.js';

// Fetch on notify: with FLEXPRICE_API_KEY the webhook is a notification and the state is the API's,
// read through the official SDK from a loopback stand-in of Flexprice's API.

const KEY = 'test-api-key-0123456789';
const ENV = 'env_01K2ZQ0A1B2C3D4E5F6G7H8J9K';
/** How far apart a job's two 404s must be before it takes a customer as gone (the smallest allowed). */
const CONFIRM_MS = 1_000;

const test = targetTest
  // biome-ignore lint/correctness/noEmptyPattern: vitest requires a destructuring pattern here.
  .extend('api', async ({}, { onCleanup }) => {
    const api = await startFlexpriceApiStandIn({ apiKey: KEY, environmentId: ENV });
    onCleanup(() => api.close());
    return api;
  })
  .extend('worker', async ({ redis, api, target }, { onCleanup }) => {
    const worker = await startTestWorker(redis.url, {
      CUSTOMER_FORWARD_URL: target.url,
      FLEXPRICE_API_KEY: KEY,
      FLEXPRICE_API_URL: api.url,
      FLEXPRICE_API_TIMEOUT_MS: '1000',
      FLEXPRICE_API_NOT_FOUND_CONFIRM_MS: String(CONFIRM_MS),
    });
    onCleanup(() => worker.close());
    return worker;
  });

/** A webhook whose body says `name`, about customer `id` (the API may say otherwise). */
const webhook = (type: 'customer.created' | 'customer.updated' | 'customer.deleted', id: string, name: string) =>
  customerEvent(type, currentCustomer({ id, name, external_id: `ext-${id}`, environment_id: ENV }));

type Forwarded = { event_type: string; customer: { id: string; name: string; status: string }; version: string };
const bodies = (target: { received: { body: string }[] }) =>
  target.received.map((r) => JSON.parse(r.body) as Forwarded);

describe('fetch on notify', () => {
  test("stores and forwards the API's state, versioned by its updated_at, not the webhook body", async ({
    api,
    worker,
    target,
  }) => {
    const inApi = api.upsert({ id: 'cust_a', name: 'From the API', email: '' });
    const { state, job } = await settled(
      worker.queue,
      await enqueue(worker.queue, 'customer.created', webhook('customer.created', 'cust_a', 'From the body')),
    );
    expect(state).toBe('completed');
    expect(job.returnvalue).toEqual({ outcome: 'applied', forwarded: 'sent' });
    const stored = await worker.store.get('cust_a');
    // The customer as the API sent it: snake_case, an empty field left out, as Flexprice's JSON has it.
    expect(stored?.customer).toMatchObject({
      name: 'From the API',
      status: 'published',
      tenant_id: expect.any(String),
    });
    expect(stored?.customer).not.toHaveProperty('email');
    expect(stored?.version).toMatch(/^0\.\d{20}\.\d{17}\.api$/);
    const [forwarded] = bodies(target);
    expect(forwarded).toMatchObject({ event_type: 'customer.created', customer: { name: 'From the API' } });
    expect(forwarded?.version).toBe(stored?.version);
    expect(forwarded?.customer).toMatchObject({ updated_at: inApi.updated_at });
  });

  test('the same API state reached by two webhooks is stored and forwarded once', async ({ api, worker, target }) => {
    api.upsert({ id: 'cust_b', name: 'B' });
    await settled(
      worker.queue,
      await enqueue(worker.queue, 'customer.created', webhook('customer.created', 'cust_b', 'B0')),
    );
    const second = await settled(
      worker.queue,
      await enqueue(worker.queue, 'customer.updated', webhook('customer.updated', 'cust_b', 'B1')),
    );
    expect(second.job.returnvalue).toEqual({ outcome: 'unchanged', forwarded: 'already' });
    expect(target.received).toHaveLength(1);
    const text = await worker.metrics.registry.metrics();
    expect(metricValue(text, 'flexprice_customers_applied_total', { source: 'api' })).toBe(1);
    expect(metricValue(text, 'flexprice_customers_applied_total', { source: 'webhook' })).toBe(0);
  });

  test('the scheduled sync stores a customer no webhook named, and its metrics say so', async ({
    redis,
    api,
    target,
  }) => {
    api.upsert({ id: 'cust_unnotified', name: 'Never notified' });
    const before = Date.now() / 1000;
    const worker = await startTestWorker(redis.url, {
      CUSTOMER_FORWARD_URL: target.url,
      FLEXPRICE_API_KEY: KEY,
      FLEXPRICE_API_URL: api.url,
      CUSTOMER_SYNC_INTERVAL: '1h',
    });
    try {
      const lastSuccess = async () =>
        metricValue(await worker.metrics.registry.metrics(), 'flexprice_customer_sync_last_success_timestamp_seconds');
      await expect.poll(lastSuccess, { timeout: 20_000, interval: 100 }).toBeGreaterThanOrEqual(Math.floor(before));
      expect((await worker.store.get('cust_unnotified'))?.customer).toMatchObject({ name: 'Never notified' });
      expect(bodies(target).map((body) => body.customer.id)).toEqual(['cust_unnotified']);
      const text = await worker.metrics.registry.metrics();
      expect(metricValue(text, 'flexprice_customers_applied_total', { source: 'sync' })).toBe(1);
      expect(metricValue(text, 'flexprice_customers_applied_total', { source: 'api' })).toBe(0);
    } finally {
      await worker.close();
    }
  });

  test('webhooks in any order, retried or replayed, end on the API state, and nothing older is forwarded after it', async ({
    api,
    worker,
    target,
  }) => {
    const id = 'cust_c';
    api.upsert({ id, name: 'v1' });
    // The target fails the first forward: that job retries after the others went through.
    target.setResponder((n) => ({ status: n === 0 ? 503 : 200 }));
    const first = await enqueue(worker.queue, 'customer.created', webhook('customer.created', id, 'v1'), {
      backoffMs: 500,
    });
    await expect.poll(() => target.received.length, { timeout: 10_000 }).toBe(1);
    api.upsert({ id, name: 'v2' });
    api.upsert({ id, name: 'v3' });
    const later = await enqueue(worker.queue, 'customer.updated', webhook('customer.updated', id, 'v2'));
    await settled(worker.queue, later);
    const retried = await settled(worker.queue, first);
    // The retry read v3 too: the state the later job stored and forwarded; not forwarded twice.
    expect(retried.job.returnvalue).toEqual({ outcome: 'unchanged', forwarded: 'already' });
    expect(bodies(target).map((b) => b.customer.name)).toEqual(['v1', 'v3']);
    expect((await worker.store.get(id))?.customer.name).toBe('v3');
  });

  test('a customer archived in Flexprice becomes a tombstone, and its deletion is forwarded once', async ({
    api,
    worker,
    target,
  }) => {
    api.upsert({ id: 'cust_d', name: 'D' });
    await settled(
      worker.queue,
      await enqueue(worker.queue, 'customer.created', webhook('customer.created', 'cust_d', 'D')),
    );
    api.archive('cust_d');
    for (const type of ['customer.updated', 'customer.deleted'] as const) {
      await settled(worker.queue, await enqueue(worker.queue, type, webhook(type, 'cust_d', 'D')));
    }
    expect(bodies(target).map((b) => b.event_type)).toEqual(['customer.created', 'customer.deleted']);
    // A tombstone keeps nothing personal: no data, no external id (the forward carried the archived state).
    const tombstone = await worker.store.get('cust_d');
    expect(tombstone).toMatchObject({ deleted: true, provisional: false, externalId: '' });
    expect(tombstone?.customer).toEqual({});
    expect(bodies(target).at(-1)?.customer).toMatchObject({ status: 'archived', name: 'D' });
    expect(await worker.store.findByExternalId('ext-cust_d', { environmentId: ENV })).toEqual([]);
  });

  test("a 404 in the key's environment, read again later, is a provisional tombstone without personal data; from another environment it stores nothing and fails loudly", async ({
    api,
    worker,
    target,
  }) => {
    api.upsert({ id: 'cust_known', name: 'Known' });
    await settled(
      worker.queue,
      await enqueue(worker.queue, 'customer.created', webhook('customer.created', 'cust_known', 'Known')),
    );
    const gone = await settled(
      worker.queue,
      await enqueue(worker.queue, 'customer.updated', webhook('customer.updated', 'cust_gone', 'Gone')),
    );
    expect(gone.job.returnvalue).toEqual({ outcome: 'applied', forwarded: 'sent' });
    // Two reads of the job, the second at least CONFIRM_MS after the first, without spending an attempt.
    const reads = api.calls.filter((c) => c.path === '/v1/customers/cust_gone');
    expect(reads.map((c) => c.status)).toEqual([404, 404]);
    expect((reads[1]?.at ?? 0) - (reads[0]?.at ?? 0)).toBeGreaterThanOrEqual(CONFIRM_MS - 50);
    expect(gone.job.attemptsMade).toBe(1);
    const tombstone = await worker.store.get('cust_gone');
    expect(tombstone).toMatchObject({ deleted: true, provisional: true, externalId: '' });
    expect(tombstone?.customer).toEqual({});
    expect(tombstone?.version).toMatch(/^0\.0{20}\.0{17}\.gone\.api$/);
    expect(bodies(target).at(-1)?.event_type).toBe('customer.deleted');

    const elsewhere = customerEvent(
      'customer.created',
      currentCustomer({ id: 'cust_other_env', environment_id: 'env_other' }),
    );
    const failed = await settled(worker.queue, await enqueue(worker.queue, 'customer.created', elsewhere));
    expect(failed.state).toBe('failed');
    expect(failed.job.attemptsMade).toBe(1);
    expect(failed.job.failedReason).toContain('not known to serve');
    expect(await worker.store.get('cust_other_env')).toBeUndefined();
  });

  test('a single 404 (a gateway, a replica behind) deletes nothing: the job reads again and stores the live customer', async ({
    api,
    worker,
    target,
  }) => {
    const id = 'cust_transient_404';
    api.upsert({ id, name: 'Alive' });
    await settled(worker.queue, await enqueue(worker.queue, 'customer.created', webhook('customer.created', id, 'x')));
    const updated = api.upsert({ id, name: 'Still alive' });
    api.failNext(1, { status: 404, path: `/v1/customers/${id}` });
    const { state, job } = await settled(
      worker.queue,
      await enqueue(worker.queue, 'customer.updated', webhook('customer.updated', id, 'x')),
    );
    expect(state).toBe('completed');
    expect(job.returnvalue).toEqual({ outcome: 'applied', forwarded: 'sent' });
    // The 404 of the read by id is checked with the search, which lists the customer.
    expect(api.calls.filter((c) => c.path.startsWith('/v1/customers/')).map((c) => `${c.path} ${c.status}`)).toEqual([
      `/v1/customers/${id} 200`,
      `/v1/customers/${id} 404`,
      '/v1/customers/search 200',
    ]);
    expect(await worker.store.get(id)).toMatchObject({ deleted: false, customer: { name: 'Still alive' } });
    expect(bodies(target).map((b) => `${b.event_type} ${b.customer.name}`)).toEqual([
      'customer.created Alive',
      'customer.updated Still alive',
    ]);
    expect(bodies(target).at(-1)?.customer).toMatchObject({ updated_at: updated.updated_at });
  });

  test('a provisional tombstone gives way to the live state it replaced, and to any later one; not to an older one', async ({
    api,
    worker,
    target,
  }) => {
    const id = 'cust_back';
    const first = api.upsert({ id, name: 'First' });
    api.upsert({ id, name: 'Before' });
    await settled(worker.queue, await enqueue(worker.queue, 'customer.created', webhook('customer.created', id, 'x')));
    const before = await worker.store.get(id);
    const held = api.get(id);
    // Gone from the API (by id and by search), twice a second apart: a provisional tombstone,
    // ordered right after the state it replaced.
    api.family('customer').remove(id);
    await settled(worker.queue, await enqueue(worker.queue, 'customer.updated', webhook('customer.updated', id, 'x')));
    const tombstone = await worker.store.get(id);
    expect(tombstone).toMatchObject({ deleted: true, provisional: true });
    expect(tombstone?.version).toBe(before?.version.replace(/\.api$/, '.gone.api'));
    // The API has it again, older than the deletion's state (a replica behind): that changes nothing.
    api.upsert({ ...first, updated_at: first.updated_at });
    const older = await settled(
      worker.queue,
      await enqueue(worker.queue, 'customer.updated', webhook('customer.updated', id, 'x')),
    );
    expect(older.job.returnvalue).toEqual({ outcome: 'skipped_stale', forwarded: 'skipped' });
    // The API has it as it was: the 404s lied, the customer is back, with a version after the deletion.
    api.upsert({ ...held, id, updated_at: held?.updated_at });
    const same = await settled(
      worker.queue,
      await enqueue(worker.queue, 'customer.updated', webhook('customer.updated', id, 'x')),
    );
    expect(same.job.returnvalue).toEqual({ outcome: 'applied', forwarded: 'sent' });
    const revived = await worker.store.get(id);
    expect(revived).toMatchObject({ deleted: false, provisional: false, customer: { name: 'Before' } });
    expect(revived?.version).toBe(before?.version.replace(/\.api$/, '.revived.api'));
    // A later live state supersedes it too: stored, indexed and forwarded after the deletion.
    api.upsert({ id, name: 'After' });
    const back = await settled(
      worker.queue,
      await enqueue(worker.queue, 'customer.updated', webhook('customer.updated', id, 'x')),
    );
    expect(back.job.returnvalue).toEqual({ outcome: 'applied', forwarded: 'sent' });
    expect(await worker.store.get(id)).toMatchObject({
      deleted: false,
      provisional: false,
      customer: { name: 'After' },
    });
    expect((await worker.store.findByExternalId(`ext-${id}`, { environmentId: ENV })).map((c) => c.id)).toEqual([id]);
    const sent = bodies(target);
    expect(sent.map((b) => `${b.event_type} ${b.customer.name}`)).toEqual([
      'customer.created Before',
      // (A provisional deletion goes out as the webhook's own body: the API has nothing to say of it.)
      'customer.deleted x',
      'customer.updated Before',
      'customer.updated After',
    ]);
    const versions = sent.map((b) => b.version);
    expect([...versions].sort()).toEqual(versions);
    // A deletion Flexprice shows (archived) is final, over a provisional one as over any state.
    api.archive(id);
    await settled(worker.queue, await enqueue(worker.queue, 'customer.deleted', webhook('customer.deleted', id, 'x')));
    api.upsert({ id, name: 'Never again', status: 'published' });
    const after = await settled(
      worker.queue,
      await enqueue(worker.queue, 'customer.updated', webhook('customer.updated', id, 'x')),
    );
    expect(after.job.returnvalue).toEqual({ outcome: 'skipped_tombstone', forwarded: 'skipped' });
  });

  test("a worker's first job, a 404 in the key's environment, is a tombstone: it asks the API which environment the key serves", async ({
    api,
    worker,
    target,
  }) => {
    api.upsert({ id: 'cust_other', name: 'Another customer of the environment' });
    const gone = await settled(
      worker.queue,
      await enqueue(worker.queue, 'customer.updated', webhook('customer.updated', 'cust_gone_first', 'Gone')),
    );
    expect(gone.job.failedReason).toBeUndefined();
    expect(gone.job.returnvalue).toEqual({ outcome: 'applied', forwarded: 'sent' });
    expect(await worker.store.get('cust_gone_first')).toMatchObject({ deleted: true, provisional: true });
    expect(bodies(target).map((body) => body.event_type)).toEqual(['customer.deleted']);
  });

  test('a 503 while asking which environment the key serves is retried, not a permanent failure', async ({
    api,
    worker,
  }) => {
    api.upsert({ id: 'cust_other', name: 'Another customer of the environment' });
    const noIds = (body: unknown) => (body as { customer_ids?: unknown } | null)?.customer_ids === undefined;
    api.failNext(1, { status: 503, path: '/v1/customers/search', body: noIds });
    const gone = await settled(
      worker.queue,
      await enqueue(worker.queue, 'customer.updated', webhook('customer.updated', 'cust_gone_503', 'Gone')),
    );
    expect(gone.state).toBe('completed');
    expect(gone.job.attemptsMade).toBe(2);
    expect(await worker.store.get('cust_gone_503')).toMatchObject({ deleted: true });
    // The environment check (one customer, no ids) apart from the searches of the customer's own id.
    const environmentChecks = api.calls.filter((c) => c.path === '/v1/customers/search' && noIds(c.body));
    expect(environmentChecks.map((c) => c.status)).toEqual([503, 200]);
  });
});

describe('switching the key on', () => {
  test("the API's state supersedes webhook states stored and forwarded before, even later ones", async ({
    redis,
    api,
    target,
  }) => {
    const id = 'cust_switch';
    api.upsert({ id, name: 'B' });
    const webhookOnly = await startTestWorker(redis.url, { CUSTOMER_FORWARD_URL: target.url });
    try {
      for (const name of ['B', 'A (a stale Svix retry)']) {
        await settled(
          webhookOnly.queue,
          await enqueue(webhookOnly.queue, 'customer.updated', webhook('customer.updated', id, name)),
        );
      }
      expect((await webhookOnly.store.get(id))?.customer.name).toBe('A (a stale Svix retry)');
      const withKey = await startTestWorker(redis.url, {
        CUSTOMER_FORWARD_URL: target.url,
        FLEXPRICE_API_KEY: KEY,
        FLEXPRICE_API_URL: api.url,
        QUEUE_PREFIX: webhookOnly.prefix,
        STORE_PREFIX: `${webhookOnly.prefix}-store`,
      });
      try {
        await webhookOnly.pool.close(1_000);
        const job = await enqueue(webhookOnly.queue, 'customer.updated', webhook('customer.updated', id, 'whatever'));
        expect((await settled(webhookOnly.queue, job)).job.returnvalue).toEqual({
          outcome: 'applied',
          forwarded: 'sent',
        });
        expect((await webhookOnly.store.get(id))?.customer.name).toBe('B');
        expect(bodies(target).map((b) => b.customer.name)).toEqual(['B', 'A (a stale Svix retry)', 'B']);
      } finally {
        await withKey.close();
      }
    } finally {
      await webhookOnly.close();
    }
  });
});

describe("the API's failures are the job's", () => {
  test('429 with Retry-After waits at least that long; 500 is retried; then the state is stored', async ({
    api,
    worker,
  }) => {
    api.upsert({ id: 'cust_e', name: 'E' });
    api.failNext(1, { status: 429, headers: { 'retry-after': '1' } });
    api.failNext(1, { status: 500 });
    const { state, job } = await settled(
      worker.queue,
      await enqueue(worker.queue, 'customer.created', webhook('customer.created', 'cust_e', 'E'), { backoffMs: 10 }),
    );
    expect(state).toBe('completed');
    expect(job.attemptsMade).toBe(3);
    const calls = api.calls.filter((c) => c.path.endsWith('/cust_e'));
    expect(calls.map((c) => c.status)).toEqual([429, 500, 200]);
    expect((calls[1]?.at ?? 0) - (calls[0]?.at ?? 0)).toBeGreaterThanOrEqual(950);
    expect((await worker.store.get('cust_e'))?.customer.name).toBe('E');
  });

  test('401 fails the job for good, counts it, and readiness says the key is refused', async ({
    redis,
    api,
    target,
  }) => {
    const worker = await startTestWorker(redis.url, {
      CUSTOMER_FORWARD_URL: target.url,
      FLEXPRICE_API_KEY: 'a-wrong-key-000',
      FLEXPRICE_API_URL: api.url,
    });
    try {
      const { state, job } = await settled(
        worker.queue,
        await enqueue(worker.queue, 'customer.created', webhook('customer.created', 'cust_f', 'F')),
      );
      expect(state).toBe('failed');
      expect(job.attemptsMade).toBe(1);
      expect(job.failedReason).toContain('FLEXPRICE_API_KEY');
      expect(await worker.isReady()).toBe(false);
      expect(await worker.problems()).toEqual([
        "flexprice_api_unauthorized: Flexprice's API refuses FLEXPRICE_API_KEY",
      ]);
      const text = await worker.metrics.registry.metrics();
      expect(metricValue(text, 'flexprice_api_unauthorized')).toBe(1);
      expect(
        metricValue(text, 'flexprice_api_requests_total', { operation: 'get_customer', result: 'unauthorized' }),
      ).toBe(1);
      expect(target.received).toHaveLength(0);
    } finally {
      await worker.close();
    }
  });
});

describe('batched reads', () => {
  test('a backlog is read in batches: far fewer API calls than jobs; a single event is read at once', async ({
    redis,
    api,
  }) => {
    const worker = await startTestWorker(redis.url, { FLEXPRICE_API_KEY: KEY, FLEXPRICE_API_URL: api.url });
    try {
      await worker.pool.close(1_000);
      const jobs = 300;
      for (let i = 0; i < jobs; i += 1) api.upsert({ id: `cust_batch_${i}`, name: `N${i}` });
      const before = api.calls.length;
      const queued = [];
      for (let i = 0; i < jobs; i += 1) {
        queued.push(
          await enqueue(worker.queue, 'customer.updated', webhook('customer.updated', `cust_batch_${i}`, 'x')),
        );
      }
      const restarted = await startTestWorker(redis.url, {
        FLEXPRICE_API_KEY: KEY,
        FLEXPRICE_API_URL: api.url,
        QUEUE_PREFIX: worker.prefix,
        STORE_PREFIX: `${worker.prefix}-store`,
      });
      try {
        await expect
          .poll(async () => (await worker.queue.getJobCounts('completed')).completed, { timeout: 20_000 })
          .toBe(jobs);
        const calls = api.calls.length - before;
        expect(calls / jobs).toBeLessThanOrEqual(0.25);
        expect((await restarted.store.get('cust_batch_7'))?.customer.name).toBe('N7');

        const one = api.calls.length;
        api.upsert({ id: 'cust_single', name: 'Single' });
        await settled(
          worker.queue,
          await enqueue(worker.queue, 'customer.created', webhook('customer.created', 'cust_single', 'S')),
        );
        expect(api.calls.slice(one).map((c) => c.path)).toEqual(['/v1/customers/cust_single']);
      } finally {
        await restarted.close();
      }
    } finally {
      await worker.close();
    }
  });
});
