import { fileURLToPath } from 'node:url';
import { currentCustomer, customerEvent } from '@flexprice/contracts/fixtures';
import { freePort, runNode, redisTest as test, uniquePrefix } from '@flexprice/testing';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Webhook } from 'standardwebhooks';
import { expect } from 'vitest';
import { createCustomerStore } from '../src/customer-store.js';
import { FORWARD_SECRET, startForwardTarget } from './support.js';

const RECEIVER = fileURLToPath(new URL('../../receiver/dist/main.js', import.meta.url));
const WORKER = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const WEBHOOKS = 500;

test('500 signed webhooks through the built receiver and worker: every customer stored and forwarded once', async ({
  redis,
}) => {
  const target = await startForwardTarget();
  const prefix = uniquePrefix('e2e');
  const port = await freePort();
  const shared = { REDIS_URL: redis.url, QUEUE_PREFIX: prefix, LOG_LEVEL: 'warn' };
  const receiver = runNode(RECEIVER, {
    ...shared,
    PORT: String(port),
    HOST: '127.0.0.1',
    FLEXPRICE_WEBHOOK_SECRET: SECRET,
  });
  const worker = runNode(WORKER, {
    ...shared,
    STORE_PREFIX: `${prefix}-store`,
    WORKER_METRICS_HOST: '127.0.0.1',
    WORKER_METRICS_PORT: String(await freePort()),
    CUSTOMER_FORWARD_URL: target.url,
    CUSTOMER_FORWARD_SECRET: FORWARD_SECRET,
  });
  const storeRedis = new Redis(redis.url);
  try {
    await expect
      .poll(
        () =>
          fetch(`http://127.0.0.1:${port}/readyz`).then(
            (r) => r.status,
            () => 0,
          ),
        { timeout: 10_000 },
      )
      .toBe(200);

    const signer = new Webhook(SECRET);
    const ids = Array.from({ length: WEBHOOKS }, (_, i) => `cust_e2e_${String(i).padStart(4, '0')}`);
    const send = async (id: string) => {
      const body = JSON.stringify(customerEvent('customer.created', currentCustomer({ id, external_id: `ext-${id}` })));
      const now = new Date();
      const res = await fetch(`http://127.0.0.1:${port}/webhooks/flexprice`, {
        method: 'POST',
        body,
        headers: {
          'content-type': 'application/json',
          'svix-id': `msg_${id}`,
          'svix-timestamp': String(Math.floor(now.getTime() / 1000)),
          'svix-signature': signer.sign(`msg_${id}`, now, body),
        },
      });
      return res.status;
    };
    const statuses: number[] = [];
    for (let i = 0; i < ids.length; i += 25) statuses.push(...(await Promise.all(ids.slice(i, i + 25).map(send))));
    expect(statuses.every((status) => status === 202)).toBe(true);
    // A redelivery of some of them changes nothing.
    expect(await Promise.all(ids.slice(0, 10).map(send))).toEqual(Array(10).fill(202));

    const queue = new Queue('flexprice.customer', { connection: { url: redis.url }, prefix });
    try {
      await expect
        .poll(() => queue.getJobCounts('completed', 'waiting', 'active', 'delayed', 'failed'), {
          timeout: 30_000,
          interval: 100,
        })
        .toEqual({ completed: WEBHOOKS, waiting: 0, active: 0, delayed: 0, failed: 0 });
    } finally {
      await queue.close();
    }
    expect(target.received).toHaveLength(WEBHOOKS);
    const forwardedIds = target.received.map((r) => r.headers['webhook-id']);
    expect(new Set(forwardedIds).size).toBe(WEBHOOKS);
    expect(new Set(target.received.map((r) => JSON.parse(r.body).customer.id))).toEqual(new Set(ids));

    const store = createCustomerStore(storeRedis, { prefix: `${prefix}-store`, processedTtlSeconds: 3600 });
    const stored = await Promise.all(ids.map((id) => store.get(id)));
    expect(stored.filter((customer) => customer?.externalId === `ext-${customer?.id}`)).toHaveLength(WEBHOOKS);
  } finally {
    storeRedis.disconnect();
    receiver.child.kill('SIGTERM');
    worker.child.kill('SIGTERM');
    await Promise.all([receiver.exited, worker.exited]);
    await target.close();
  }
});
