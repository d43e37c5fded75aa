import { fileURLToPath } from 'node:url';
import { currentCustomer, customerEvent } from '@flexprice/contracts/fixtures';
import { freePort, redisTest, runNode, uniquePrefix } from '@flexprice/testing';
import { Queue } from 'bullmq';
import { describe, expect } from 'vitest';
import { enqueue, FORWARD_SECRET, startForwardTarget } from './support.js';

const dist = (path: string) => fileURLToPath(new URL(`../dist/${path}`, import.meta.url));
const MAIN = dist('main.js');
const DLQ = dist('cli/dlq.js');
const CUSTOMERS = dist('cli/customers.js');

/** A target, a queue and the environment of a built worker process, all with their own names. */
const test = redisTest.extend('setup', async ({ redis }, { onCleanup }) => {
  const target = await startForwardTarget();
  const prefix = uniquePrefix('proc');
  const queue = new Queue('flexprice.customer', { connection: { url: redis.url }, prefix });
  onCleanup(async () => {
    await queue.close();
    await target.close();
  });
  const env = async (extra: Record<string, string> = {}) => ({
    REDIS_URL: redis.url,
    QUEUE_PREFIX: prefix,
    STORE_PREFIX: `${prefix}-store`,
    WORKER_METRICS_HOST: '127.0.0.1',
    WORKER_METRICS_PORT: String(await freePort()),
    CUSTOMER_FORWARD_URL: target.url,
    CUSTOMER_FORWARD_SECRET: FORWARD_SECRET,
    ...extra,
  });
  return { target, queue, env };
});

const event = (id: string) => customerEvent('customer.created', currentCustomer({ id }));

describe('the built worker process', () => {
  test('SIGTERM mid-job: the active job finishes, then the process exits 0', async ({ setup }) => {
    const { target, queue } = setup;
    target.setResponder(() => ({ status: 200, delayMs: 1_000 }));
    const worker = runNode(MAIN, await setup.env());
    try {
      const job = await enqueue(queue, 'customer.created', event('cust_sigterm'));
      await expect.poll(() => target.received.length, { timeout: 10_000 }).toBe(1);
      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
      expect(await queue.getJobState(job.id ?? '')).toBe('completed');
      expect(worker.output()).toContain('worker stopped');
      expect(worker.output()).toContain(`"jobId":"${job.id}"`);
    } finally {
      worker.child.kill('SIGKILL');
    }
  });

  test('a job cut off by the shutdown bound is retried by another worker, never lost', async ({ setup }) => {
    const { target, queue } = setup;
    target.setResponder((n) => ({ status: 200, delayMs: n === 0 ? 1_500 : 0 }));
    // The killed worker's forward lock lapses 2 s after the forward's timeout.
    const fastLocks = {
      WORKER_LOCK_DURATION_MS: '1000',
      WORKER_STALLED_INTERVAL_MS: '500',
      CUSTOMER_FORWARD_TIMEOUT_MS: '2000',
    };
    const first = runNode(MAIN, await setup.env({ ...fastLocks, SHUTDOWN_TIMEOUT_MS: '300' }));
    let second: ReturnType<typeof runNode> | undefined;
    try {
      const job = await enqueue(queue, 'customer.created', event('cust_cut_off'));
      await expect.poll(() => target.received.length, { timeout: 10_000 }).toBe(1);
      first.child.kill('SIGTERM');
      expect(await first.exited).toBe(1);
      expect(first.output()).toContain('SHUTDOWN_TIMEOUT_MS');

      second = runNode(MAIN, await setup.env(fastLocks));
      await expect.poll(() => queue.getJobState(job.id ?? ''), { timeout: 15_000 }).toBe('completed');
      expect(target.received.map((r) => r.headers['webhook-id'])).toEqual([
        job.data.receipt.idempotencyKey,
        job.data.receipt.idempotencyKey,
      ]);
    } finally {
      first.child.kill('SIGKILL');
      second?.child.kill('SIGKILL');
    }
  });

  test('pnpm dlq retry re-runs a failed job to success; the CLIs answer with clear exit codes', async ({ setup }) => {
    const { target, queue } = setup;
    target.setResponder(() => ({ status: 400 }));
    const env = await setup.env();
    const worker = runNode(MAIN, env);
    try {
      const job = await enqueue(queue, 'customer.created', event('cust_replayed'));
      await expect.poll(() => queue.getJobState(job.id ?? ''), { timeout: 10_000 }).toBe('failed');

      const health = `http://127.0.0.1:${env.WORKER_METRICS_PORT}`;
      expect((await fetch(`${health}/healthz`)).status).toBe(200);
      await expect.poll(async () => (await fetch(`${health}/readyz`)).status).toBe(200);
      const metrics = await (await fetch(`${health}/metrics`)).text();
      expect(metrics).toContain('flexprice_queue_jobs{queue="flexprice.customer",state="failed"} 1');
      expect(metrics).toContain(
        'flexprice_jobs_total{queue="flexprice.customer",event_type="customer.created",result="failed"} 1',
      );

      const list = runNode(DLQ, env, ['list', '--queue', 'flexprice.customer']);
      expect(await list.exited).toBe(0);
      expect(list.output()).toContain(`${job.id}  customer.created  attempts=1`);
      expect(list.output()).toContain('answered 400');

      target.setResponder(() => ({ status: 200 }));
      const retry = runNode(DLQ, env, ['retry', job.id ?? '']);
      expect(await retry.exited).toBe(0);
      await expect.poll(() => queue.getJobState(job.id ?? ''), { timeout: 10_000 }).toBe('completed');
      expect(target.received).toHaveLength(2);

      const unknown = runNode(DLQ, env, ['retry', 'no-such-job']);
      expect(await unknown.exited).toBe(1);
      const usage = runNode(DLQ, env, ['retry']);
      expect(await usage.exited).toBe(2);

      const get = runNode(CUSTOMERS, env, ['get', 'cust_replayed']);
      expect(await get.exited).toBe(0);
      expect(JSON.parse(get.output())).toMatchObject({ id: 'cust_replayed', deleted: false });
      const find = runNode(CUSTOMERS, env, ['find', '--external-id', 'acme-42']);
      expect(await find.exited).toBe(0);
      const missing = runNode(CUSTOMERS, env, ['get', 'cust_nobody']);
      expect(await missing.exited).toBe(1);
    } finally {
      worker.child.kill('SIGKILL');
    }
  });

  test('purge empties the failed set', async ({ setup }) => {
    const { target, queue } = setup;
    target.setResponder(() => ({ status: 422 }));
    const env = await setup.env();
    const worker = runNode(MAIN, env);
    try {
      const job = await enqueue(queue, 'customer.created', event('cust_purged'));
      await expect.poll(() => queue.getJobState(job.id ?? ''), { timeout: 10_000 }).toBe('failed');
      const keep = runNode(DLQ, env, ['purge', '--older-than', '1h']);
      expect(await keep.exited).toBe(0);
      expect(await queue.getFailedCount()).toBe(1);
      const purge = runNode(DLQ, env, ['purge']);
      expect(await purge.exited).toBe(0);
      expect(purge.output()).toContain('1 failed job(s) purged');
      expect(await queue.getFailedCount()).toBe(0);
    } finally {
      worker.child.kill('SIGKILL');
    }
  });
});
