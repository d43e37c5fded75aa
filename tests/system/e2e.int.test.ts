import { currentCustomer, customerEvent } from '@flexprice/contracts/fixtures';
import { signedHeaders, startForwardTarget, redisTest as test, uniquePrefix } from '@flexprice/testing';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { expect } from 'vitest';
import { createCustomerStore } from '../../apps/worker/src/ordering/customer-store.js';
import {
  acknowledged,
  customerId,
  deliverAll,
  FORWARD_SECRET,
  startReceiverProcess,
  startWorkerProcess,
  WEBHOOK_SECRET,
  waitReady,
} from './system-support.js';

const WEBHOOKS = 500;

test('500 signed webhooks through the built receiver and worker: every customer stored and forwarded once', async ({
  redis,
}) => {
  const target = await startForwardTarget();
  const prefix = uniquePrefix('e2e');
  const env = { REDIS_URL: redis.url, QUEUE_PREFIX: prefix, STORE_PREFIX: `${prefix}-store` };
  // Info level: the log capture below must hold no secret and no personal data at that level.
  const receiver = await startReceiverProcess({ ...env, LOG_LEVEL: 'info' });
  const worker = await startWorkerProcess({ ...env, LOG_LEVEL: 'info' }, target.url);
  const queue = new Queue('flexprice.customer', { connection: { url: redis.url }, prefix });
  const storeRedis = new Redis(redis.url);
  try {
    await waitReady(receiver.port);
    expect(acknowledged(await deliverAll(receiver.port, 'e2e', WEBHOOKS))).toHaveLength(WEBHOOKS);
    // Redeliveries of some of them change nothing.
    const again = await deliverAll(receiver.port, 'e2e', 10);
    expect([...again.values()].map((o) => o.ok && o.answer.status)).toEqual(Array(10).fill('duplicate'));

    await expect
      .poll(() => queue.getJobCounts('completed', 'waiting', 'active', 'delayed', 'failed'), {
        timeout: 30_000,
        interval: 100,
      })
      .toEqual({ completed: WEBHOOKS, waiting: 0, active: 0, delayed: 0, failed: 0 });
    expect(target.received).toHaveLength(WEBHOOKS);
    expect(new Set(target.received.map((r) => r.headers['webhook-id'])).size).toBe(WEBHOOKS);

    // One request id from the HTTP request through the job to the worker's lines and the forward.
    const traced = JSON.stringify(customerEvent('customer.created', currentCustomer({ id: 'cust_traced' })));
    const res = await fetch(`http://127.0.0.1:${receiver.port}/webhooks/flexprice`, {
      method: 'POST',
      body: traced,
      headers: {
        ...signedHeaders(traced, { secret: WEBHOOK_SECRET, id: 'msg_traced' }),
        'x-request-id': 'req-trace-42',
      },
    });
    expect(res.headers.get('x-request-id')).toBe('req-trace-42');
    await expect.poll(() => worker.output(), { timeout: 10_000 }).toContain('"requestId":"req-trace-42"');
    expect(receiver.output()).toContain('"requestId":"req-trace-42"');
    expect(target.received.at(-1)?.headers['x-request-id']).toBe('req-trace-42');

    const logs = receiver.output() + worker.output();
    for (const secret of [WEBHOOK_SECRET, WEBHOOK_SECRET.slice(6), FORWARD_SECRET, FORWARD_SECRET.slice(6)]) {
      expect(logs).not.toContain(secret);
    }
    expect(logs).not.toMatch(/@acme\.test/); // the customers' emails
    expect(logs).not.toContain('Acme Inc'); // and names

    const store = createCustomerStore(storeRedis, { prefix: env.STORE_PREFIX, deliveryPinTtlSeconds: 3600 });
    const ids = Array.from({ length: WEBHOOKS }, (_, i) => customerId('e2e', i));
    const stored = await Promise.all(ids.map((id) => store.get(id)));
    expect(stored.filter((customer) => customer?.externalId === `ext-${customer?.id}`)).toHaveLength(WEBHOOKS);
  } finally {
    storeRedis.disconnect();
    await queue.close();
    receiver.child.kill('SIGTERM');
    worker.child.kill('SIGTERM');
    await Promise.all([receiver.exited, worker.exited]);
    await target.close();
  }
});
