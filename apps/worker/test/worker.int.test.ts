import { VERSION_PATTERN } from '@flexprice/contracts';
import { currentCustomer, customerEvent, legacyCustomer } from '@flexprice/contracts/fixtures';
import { metricValue, redisTest, spawnRedisServer } from '@flexprice/testing';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Webhook } from 'standardwebhooks';
import { describe, expect } from 'vitest';
import { createWorkerMetrics } from '../src/metrics.js';
import { startWorkerPool } from '../src/queue/pool.js';
import { enqueue, FORWARD_SECRET, settled, startTestWorker, type TestWorker, targetTest } from './support.js';

/** A worker forwarding to a target of its own; both closed when the test ends. */
const test = targetTest.extend('worker', async ({ redis, target }, { onCleanup }) => {
  const worker = await startTestWorker(redis.url, { CUSTOMER_FORWARD_URL: target.url });
  onCleanup(() => worker.close());
  return worker;
});

/** The id of the fixtures' customer. */
const CUSTOMER_ID = 'cust_01K2ZQ8R3V7M5N4P6Q8R0S2T4V';

const created = (overrides: Record<string, unknown> = {}) =>
  customerEvent('customer.created', currentCustomer(overrides));

describe('customer.created', () => {
  test('is stored, indexed and forwarded once, signed, with the idempotency key as webhook-id', async ({
    worker,
    target,
  }) => {
    const job = await enqueue(worker.queue, 'customer.created', created(), { key: 'id-msg_once' });
    const { state, job: done } = await settled(worker.queue, job);
    expect(state).toBe('completed');
    expect(done.returnvalue).toEqual({ outcome: 'applied', forwarded: 'sent' });

    expect(target.received).toHaveLength(1);
    const [request] = target.received;
    expect(request?.headers['webhook-id']).toBe('id-msg_once');
    expect(request?.headers['x-flexprice-event-type']).toBe('customer.created');
    const verified = new Webhook(FORWARD_SECRET).verify(
      request?.body ?? '',
      request?.headers as Record<string, string>,
    );
    // The event as Flexprice sent it, with the version of that state, also in a header.
    expect(verified).toEqual({ ...created(), version: expect.stringMatching(VERSION_PATTERN) });
    expect(request?.headers['x-entity-version']).toBe((verified as { version: string }).version);

    const stored = await worker.store.get('cust_01K2ZQ8R3V7M5N4P6Q8R0S2T4V');
    expect(stored).toMatchObject({ externalId: 'acme-42', deleted: false, customer: created().customer });
    const found = await worker.store.findByExternalId('acme-42', { environmentId: 'env_01K2ZQ0A1B2C3D4E5F6G7H8J9K' });
    expect(found.map((customer) => customer.id)).toEqual(['cust_01K2ZQ8R3V7M5N4P6Q8R0S2T4V']);
  });
});

describe('failure classes', () => {
  test('500, 500, 200: forwarded once, after three attempts, always with the same webhook-id', async ({
    worker,
    target,
  }) => {
    target.setResponder((n) => ({ status: n < 2 ? 500 : 200 }));
    const job = await enqueue(worker.queue, 'customer.created', created(), { key: 'id-msg_flaky' });
    const { state, job: done } = await settled(worker.queue, job);
    expect(state).toBe('completed');
    expect(done.attemptsMade).toBe(3);
    expect(target.received.map((r) => r.headers['webhook-id'])).toEqual([
      'id-msg_flaky',
      'id-msg_flaky',
      'id-msg_flaky',
    ]);
    expect(done.returnvalue).toEqual({ outcome: 'applied', forwarded: 'sent' });
  });

  test('400: failed after one attempt, kept in the failed set with its error', async ({ worker, target }) => {
    target.setResponder(() => ({ status: 400 }));
    const job = await enqueue(worker.queue, 'customer.created', created());
    const { state, job: done } = await settled(worker.queue, job);
    expect(state).toBe('failed');
    expect(done.attemptsMade).toBe(1);
    expect(done.failedReason).toContain('answered 400');
    expect(target.received).toHaveLength(1);
  });

  test('a timeout is retried', async ({ redis, target }) => {
    const worker = await startTestWorker(redis.url, {
      CUSTOMER_FORWARD_URL: target.url,
      FORWARD_TIMEOUT_MS: '200',
    });
    try {
      target.setResponder((n) => ({ status: 200, delayMs: n === 0 ? 1_000 : 0 }));
      const job = await enqueue(worker.queue, 'customer.created', created());
      const { state, job: done } = await settled(worker.queue, job);
      expect(state).toBe('completed');
      expect(done.attemptsMade).toBe(2);
      expect(target.received).toHaveLength(2);
    } finally {
      await worker.close();
    }
  });

  test('a connection refused is retried until the attempts run out', async ({ redis }) => {
    const worker = await startTestWorker(redis.url, { CUSTOMER_FORWARD_URL: 'http://127.0.0.1:9/nothing-listens' });
    try {
      const job = await enqueue(worker.queue, 'customer.created', created(), { attempts: 3 });
      const { state, job: done } = await settled(worker.queue, job);
      expect(state).toBe('failed');
      expect(done.attemptsMade).toBe(3);
      expect(done.failedReason).toContain('could not connect');
    } finally {
      await worker.close();
    }
  });

  test('REDIS_WAIT_REPLICAS: stored but not forwarded while no replica confirms (no attempt spent); forwarded once one does', async ({
    redis,
    target,
    skip,
  }) => {
    if (redis.source !== 'redis-server') skip('needs a redis-server of its own to attach a replica to');
    const worker = await startTestWorker(redis.url, {
      CUSTOMER_FORWARD_URL: target.url,
      REDIS_WAIT_REPLICAS: '1',
      REDIS_WAIT_TIMEOUT_MS: '100',
    });
    let replica: Awaited<ReturnType<typeof spawnRedisServer>> | undefined;
    try {
      const client = new Redis(redis.url);
      const replication = await client.info('replication').finally(() => client.disconnect());
      if (/^slave\d+:/m.test(replication)) skip('this Redis has a replica');
      const job = await enqueue(worker.queue, 'customer.created', created({ id: 'cust_unreplicated' }), {
        attempts: 2,
        backoffMs: 10,
      });
      // The state is stored (a replica may yet confirm it), but the target does not hear of it: a
      // failover could take the store write back while the target had the version.
      await expect
        .poll(async () => (await worker.store.get('cust_unreplicated'))?.version, { timeout: 10_000 })
        .toBeTruthy();
      await expect.poll(() => worker.queue.getJobState(job.id ?? ''), { timeout: 10_000 }).toBe('delayed');
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(target.received).toHaveLength(0);
      expect((await worker.queue.getJob(job.id ?? ''))?.attemptsMade).toBe(0);
      expect(await worker.isReady()).toBe(true);
      expect(await worker.problems()).toEqual([
        'redis_replicas: the primary has 0 replica(s) online, REDIS_WAIT_REPLICAS is 1',
      ]);
      // A replica comes (back): the job goes on by itself, forwarded once.
      const port = Number(new URL(redis.url).port);
      replica = await spawnRedisServer(process.env.REDIS_SERVER_BIN ?? 'redis-server', {
        extraArgs: ['--replicaof', '127.0.0.1', String(port), '--repl-diskless-sync-delay', '0'],
      });
      const { state, job: done } = await settled(worker.queue, job, 30_000);
      expect(state).toBe('completed');
      expect(done.returnvalue).toEqual({ outcome: 'applied', forwarded: 'sent' });
      expect(target.received).toHaveLength(1);
      expect(await worker.problems()).toEqual([]);
    } finally {
      await worker.close();
      await replica?.dispose();
    }
  });

  test('429 with Retry-After waits at least that long', async ({ worker, target }) => {
    target.setResponder((n) => (n === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 }));
    const job = await enqueue(worker.queue, 'customer.created', created(), { backoffMs: 10 });
    const { state } = await settled(worker.queue, job);
    expect(state).toBe('completed');
    const [first, second] = target.received;
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(950);
  });

  test('schema-invalid job data fails at once, without a forward', async ({ worker, target }) => {
    const job = await enqueue(worker.queue, 'customer.created', created({ external_id: '' }));
    const { state, job: done } = await settled(worker.queue, job);
    expect(state).toBe('failed');
    expect(done.attemptsMade).toBe(1);
    expect(done.failedReason).toContain('event.customer.external_id');
    expect(target.received).toHaveLength(0);
  });
});

describe('exactly once in effect', () => {
  test('two jobs of one delivery (same idempotency key): one forward', async ({ worker, target }) => {
    const first = await enqueue(worker.queue, 'customer.created', created(), { key: 'id-msg_twice' });
    expect((await settled(worker.queue, first)).state).toBe('completed');
    const second = await enqueue(worker.queue, 'customer.created', created(), { key: 'id-msg_twice' });
    const { job: done } = await settled(worker.queue, second);
    expect(done.returnvalue).toEqual({ outcome: 'applied', forwarded: 'already' });
    expect(target.received).toHaveLength(1);
  });

  test('a Svix message resent after a newer state (same svix-id, past the dedupe window) keeps its first version: it does not win', async ({
    worker,
    target,
  }) => {
    const named = (name: string) => customerEvent('customer.updated', currentCustomer({ name }));
    await settled(worker.queue, await enqueue(worker.queue, 'customer.updated', named('Old'), { key: 'id-msg_old' }));
    await settled(worker.queue, await enqueue(worker.queue, 'customer.updated', named('New'), { key: 'id-msg_new' }));
    const resent = await enqueue(worker.queue, 'customer.updated', named('Old'), { key: 'id-msg_old' });
    expect((await settled(worker.queue, resent)).job.returnvalue).toEqual({
      outcome: 'skipped_stale',
      forwarded: 'skipped',
    });
    expect((await worker.store.get('cust_01K2ZQ8R3V7M5N4P6Q8R0S2T4V'))?.customer.name).toBe('New');
    expect(target.received.map((r) => (JSON.parse(r.body) as { customer: { name: string } }).customer.name)).toEqual([
      'Old',
      'New',
    ]);
  });

  test('natively, the same key again (the chain restarted after its mark expired) is a fresh read: it applies', async ({
    worker,
  }) => {
    const named = (name: string) => customerEvent('customer.updated', currentCustomer({ name }));
    await settled(worker.queue, await enqueue(worker.queue, 'customer.updated', named('X'), { key: 'nat-x' }));
    await settled(worker.queue, await enqueue(worker.queue, 'customer.updated', named('Y'), { key: 'nat-y' }));
    const again = await enqueue(worker.queue, 'customer.updated', named('X'), { key: 'nat-x' });
    expect((await settled(worker.queue, again)).job.returnvalue).toEqual({ outcome: 'applied', forwarded: 'sent' });
    expect((await worker.store.get('cust_01K2ZQ8R3V7M5N4P6Q8R0S2T4V'))?.customer.name).toBe('X');
  });

  test('a record written before versions keeps its legacy updated_at order: an older legacy state is stale', async ({
    worker,
    redis,
  }) => {
    const id = 'cust_01J9ZQ8R3V7M5N4P6Q8R0S2T4V';
    const client = new Redis(redis.url);
    try {
      // The previous store's record: no version, updated_at_ms.
      await client.hset(worker.store.keys.record(id), {
        id,
        environment_id: 'env_01J9ZQ0A1B2C3D4E5F6G7H8J9K',
        external_id: 'globex-7',
        customer: JSON.stringify(legacyCustomer({ name: 'Stored', updated_at: '2026-06-02T10:00:05Z' })),
        last_event_type: 'customer.updated',
        last_key: 'id-msg_before',
        updated_at_ms: String(Date.parse('2026-06-02T10:00:05Z')),
        applied_at: '1',
      });
    } finally {
      client.disconnect();
    }
    const older = customerEvent(
      'customer.updated',
      legacyCustomer({ name: 'Older', updated_at: '2026-06-02T10:00:01Z' }),
    );
    const newer = customerEvent(
      'customer.updated',
      legacyCustomer({ name: 'Newer', updated_at: '2026-06-02T10:00:09Z' }),
    );
    const stale = await settled(worker.queue, await enqueue(worker.queue, 'customer.updated', older));
    expect(stale.job.returnvalue).toEqual({ outcome: 'skipped_stale', forwarded: 'skipped' });
    expect((await worker.store.get(id))?.customer.name).toBe('Stored');
    await settled(worker.queue, await enqueue(worker.queue, 'customer.updated', newer));
    expect((await worker.store.get(id))?.customer.name).toBe('Newer');
  });

  test('a job run twice at once (a lost lock) applies once, forwards once, and never after a recorded success', async ({
    redis,
    target,
  }) => {
    // No worker pool here: the processor is called directly on the same job, as two workers would.
    const worker = await startTestWorker(redis.url, { CUSTOMER_FORWARD_URL: target.url });
    await worker.pool.close(1_000);
    try {
      const job = await enqueue(worker.queue, 'customer.updated', customerEvent('customer.updated', currentCustomer()));
      const concurrent = await Promise.allSettled([worker.processor(job), worker.processor(job)]);
      const results = concurrent.map((r) => (r.status === 'fulfilled' ? r.value.forwarded : r.reason.message));
      // One run forwards; the other found the forward in flight (and would be retried) or done.
      expect(results).toContain('sent');
      expect(results.filter((r) => r !== 'sent')).toEqual([
        expect.stringMatching(/^(already|a forward of this entity is in flight; retry later)$/),
      ]);
      expect(target.received).toHaveLength(1);
      expect(target.received[0]?.headers['webhook-id']).toBe(job.data.receipt.idempotencyKey);
      const appliedAt = (await worker.store.get('cust_01K2ZQ8R3V7M5N4P6Q8R0S2T4V'))?.appliedAt;

      expect(await worker.processor(job)).toEqual({ outcome: 'applied', forwarded: 'already' });
      expect(target.received).toHaveLength(1);
      expect((await worker.store.get('cust_01K2ZQ8R3V7M5N4P6Q8R0S2T4V'))?.appliedAt).toBe(appliedAt);
    } finally {
      await worker.close();
    }
  });
});

describe('order independence', () => {
  test('deleted, then a late created: the tombstone holds, nothing more is forwarded', async ({ worker, target }) => {
    const deleted = await enqueue(
      worker.queue,
      'customer.deleted',
      customerEvent('customer.deleted', currentCustomer({ name: 'Acme (gone)' })),
    );
    expect((await settled(worker.queue, deleted)).job.returnvalue).toEqual({ outcome: 'applied', forwarded: 'sent' });
    const late = await enqueue(worker.queue, 'customer.created', created());
    const { state, job: done } = await settled(worker.queue, late);
    expect(state).toBe('completed');
    expect(done.returnvalue).toEqual({ outcome: 'skipped_tombstone', forwarded: 'skipped' });
    expect(target.received.map((r) => r.headers['x-flexprice-event-type'])).toEqual(['customer.deleted']);
    const stored = await worker.store.get('cust_01K2ZQ8R3V7M5N4P6Q8R0S2T4V');
    // The deletion was forwarded with the customer's data; the tombstone keeps none of it.
    expect(stored).toMatchObject({ deleted: true, provisional: false, externalId: '' });
    expect(stored?.customer).toEqual({});
    expect(JSON.parse(target.received[0]?.body ?? '{}')).toMatchObject({ customer: { name: 'Acme (gone)' } });
  });

  test('legacy: an older updated_at never overwrites a newer one', async ({ worker, target }) => {
    const newer = customerEvent(
      'customer.updated',
      legacyCustomer({ name: 'Globex v2', updated_at: '2026-06-03T00:00:00Z' }),
    );
    const older = customerEvent(
      'customer.updated',
      legacyCustomer({ name: 'Globex v1', updated_at: '2026-06-02T23:59:59.999Z' }),
    );
    expect(
      (await settled(worker.queue, await enqueue(worker.queue, 'customer.updated', newer))).job.returnvalue,
    ).toEqual({
      outcome: 'applied',
      forwarded: 'sent',
    });
    const stale = await settled(worker.queue, await enqueue(worker.queue, 'customer.updated', older));
    expect(stale.job.returnvalue).toEqual({ outcome: 'skipped_stale', forwarded: 'skipped' });
    expect((await worker.store.get('cust_01J9ZQ8R3V7M5N4P6Q8R0S2T4V'))?.customer.name).toBe('Globex v2');
    expect(target.received).toHaveLength(1);
  });

  test('a changed external id moves the index; the old entry is removed, not left to rot', async ({
    worker,
    redis,
  }) => {
    for (const externalId of ['acme-old', 'acme-new']) {
      const event = customerEvent('customer.updated', currentCustomer({ external_id: externalId }));
      await settled(worker.queue, await enqueue(worker.queue, 'customer.updated', event));
    }
    const env = 'env_01K2ZQ0A1B2C3D4E5F6G7H8J9K';
    const client = new Redis(redis.url);
    try {
      expect(await client.exists(worker.store.keys.index(env, 'acme-old', CUSTOMER_ID))).toBe(0);
      expect(await client.exists(worker.store.keys.index(env, 'acme-new', CUSTOMER_ID))).toBe(1);
    } finally {
      client.disconnect();
    }
    expect(await worker.store.findByExternalId('acme-old', { environmentId: env })).toEqual([]);
    expect(await worker.store.findByExternalId('acme-old')).toEqual([]);
    expect((await worker.store.findByExternalId('acme-new', { environmentId: env })).map((c) => c.id)).toEqual([
      'cust_01K2ZQ8R3V7M5N4P6Q8R0S2T4V',
    ]);
  });

  test('current-shape payloads (no updated_at): the latest arrival wins', async ({ worker }) => {
    for (const name of ['Acme 1', 'Acme 2']) {
      await settled(
        worker.queue,
        await enqueue(worker.queue, 'customer.updated', customerEvent('customer.updated', currentCustomer({ name }))),
      );
    }
    expect((await worker.store.get('cust_01K2ZQ8R3V7M5N4P6Q8R0S2T4V'))?.customer.name).toBe('Acme 2');
  });
});

describe('without CUSTOMER_FORWARD_URL', () => {
  redisTest('the store is updated and nothing is forwarded', async ({ redis }) => {
    const worker: TestWorker = await startTestWorker(redis.url);
    try {
      const { job } = await settled(worker.queue, await enqueue(worker.queue, 'customer.created', created()));
      expect(job.returnvalue).toEqual({ outcome: 'applied', forwarded: 'disabled' });
    } finally {
      await worker.close();
    }
  });
});

describe('metrics', () => {
  test('count each try by result, time forwards by answer class, and read the queue gauges', async ({
    worker,
    target,
  }) => {
    const scrape = () => worker.metrics.registry.metrics();
    const before = await scrape();
    const tries: Record<string, number> = {};
    target.setResponder((_n, body) => {
      const id = (JSON.parse(body) as { customer: { id: string } }).customer.id;
      tries[id] = (tries[id] ?? 0) + 1;
      if (id === 'cust_bad') return { status: 400 };
      return { status: id === 'cust_a' && tries[id] === 1 ? 500 : 200 };
    });
    const run = async (type: 'customer.created' | 'customer.deleted', id: string) =>
      settled(worker.queue, await enqueue(worker.queue, type, customerEvent(type, currentCustomer({ id }))));
    await run('customer.created', 'cust_a'); // 500, then 200
    await run('customer.created', 'cust_bad'); // 400: failed for good
    await run('customer.deleted', 'cust_d');
    await run('customer.created', 'cust_d'); // tombstone: skipped

    const after = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) =>
      metricValue(after, name, labels) - metricValue(before, name, labels);
    const jobs = (event_type: string, result: string) =>
      delta('flexprice_jobs_total', { queue: 'flexprice.customer', event_type, result });
    expect({
      created: jobs('customer.created', 'completed'),
      retried: jobs('customer.created', 'retried'),
      failed: jobs('customer.created', 'failed'),
      skipped: jobs('customer.created', 'skipped'),
      deleted: jobs('customer.deleted', 'completed'),
    }).toEqual({ created: 1, retried: 1, failed: 1, skipped: 1, deleted: 1 });
    expect(delta('flexprice_job_duration_seconds_count')).toBe(5);
    expect({
      ok: delta('flexprice_forward_duration_seconds_count', { status_class: '2xx' }),
      client: delta('flexprice_forward_duration_seconds_count', { status_class: '4xx' }),
      server: delta('flexprice_forward_duration_seconds_count', { status_class: '5xx' }),
    }).toEqual({ ok: 2, client: 1, server: 1 });

    const gauge = (state: string) => metricValue(after, 'flexprice_queue_jobs', { queue: 'flexprice.customer', state });
    const counts = await worker.queue.getJobCounts('waiting', 'failed', 'completed');
    expect({ waiting: gauge('waiting'), failed: gauge('failed'), completed: gauge('completed') }).toEqual(counts);
    expect(counts).toEqual({ waiting: 0, failed: 1, completed: 3 });
  });

  test("the oldest waiting job's age grows while no worker takes it", async ({ redis }) => {
    const worker = await startTestWorker(redis.url);
    await worker.pool.close(1_000);
    try {
      await enqueue(worker.queue, 'customer.created', created());
      await new Promise((resolve) => setTimeout(resolve, 50));
      const text = await worker.metrics.registry.metrics();
      expect(metricValue(text, 'flexprice_queue_jobs', { queue: 'flexprice.customer', state: 'waiting' })).toBe(1);
      expect(
        metricValue(text, 'flexprice_queue_oldest_waiting_age_seconds', { queue: 'flexprice.customer' }),
      ).toBeGreaterThan(0);
    } finally {
      await worker.close();
    }
  });
});

describe('the worker pool', () => {
  test('a worker that stopped running is re-created, and the connection of the one it replaces is closed', async ({
    redis,
  }) => {
    const client = new Redis(redis.url);
    const clients = async () =>
      String(await client.call('CLIENT', 'LIST'))
        .trim()
        .split('\n').length;
    const before = await clients();
    const pool = startWorkerPool({
      redis: { mode: 'standalone', url: redis.url },
      prefix: 'pool-supervisor',
      queues: [{ family: 'customer', name: 'flexprice.customer' }],
      processor: async () => ({ outcome: 'applied' }),
      concurrency: 1,
      lockDurationMs: 30_000,
      stalledIntervalMs: 30_000,
      maxStalledCount: 1,
      logger: pino({ level: 'silent' }),
      metrics: createWorkerMetrics(),
      superviseEveryMs: 100,
    });
    try {
      const first = pool.workers.get('flexprice.customer');
      await first?.waitUntilReady();
      await expect.poll(() => first?.isRunning()).toBe(true);
      const running = await clients();
      expect(running).toBeGreaterThan(before);
      // A paused worker's run loop ends without closing it: what the supervisor looks for.
      await first?.pause();
      await expect.poll(() => pool.workers.get('flexprice.customer') !== first, { timeout: 5_000 }).toBe(true);
      await expect.poll(() => pool.isRunning(), { timeout: 5_000 }).toBe(true);
      await expect.poll(clients, { timeout: 5_000 }).toBe(running);
    } finally {
      await pool.close(2_000);
      client.disconnect();
    }
  });
});
