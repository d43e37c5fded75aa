import { webhookJob, webhookJobOptions } from '@flexprice/contracts';
import { currentCustomer, customerEvent } from '@flexprice/contracts/fixtures';
import { signedHeaders, redisTest as test } from '@flexprice/testing';
import { expect } from 'vitest';
import { postWebhook, startSystem } from './system-support.js';

// A lone UTF-16 surrogate (`"\ud800"` in JSON) in an id, at the built receiver and the built worker:
// JSON can carry one, no Flexprice payload does, and no key or URL can be built from it.

const FIELDS = ['id', 'external_id', 'environment_id'] as const;
const lone = (field: (typeof FIELDS)[number]) =>
  customerEvent('customer.created', currentCustomer({ id: 'cust_lone', [field]: `${field}-\ud800` }));

test('the receiver answers 422 naming the field; a job that holds one anyway fails once, for good, and the worker goes on', {
  timeout: 60_000,
}, async ({ redis }) => {
  const system = await startSystem(redis);
  try {
    const receiver = await system.receiver();
    for (const field of FIELDS) {
      const raw = JSON.stringify(lone(field));
      expect(raw).toContain('\\ud800');
      const res = await fetch(`http://127.0.0.1:${receiver.port}/webhooks/flexprice`, {
        method: 'POST',
        body: raw,
        headers: signedHeaders(raw),
      });
      expect(res.status).toBe(422);
      expect(JSON.stringify(await res.json())).toContain(`customer.${field}`);
    }
    expect(await system.queue.count()).toBe(0);

    // Behind the receiver: queued as a receiver would, straight into the queue.
    const jobs = await Promise.all(
      FIELDS.map((field, i) =>
        system.queue.add(
          'customer.created',
          webhookJob('customer.created', lone(field), {
            receivedAt: new Date().toISOString(),
            deliveryId: `msg_lone_${i}`,
            idempotencyKey: `id-msg_lone_${i}`,
            requestId: `req-lone-${i}`,
            inferredEventType: false,
          }),
          webhookJobOptions({ attempts: 5, backoffMs: 100, keepCompleted: 100 }),
        ),
      ),
    );
    await system.worker();
    const valid = await postWebhook(
      receiver.port,
      customerEvent('customer.created', currentCustomer({ id: 'cust_fine' })),
      'signed',
    );
    expect(valid.status).toBe(202);
    await expect
      .poll(() => system.queue.getJobCounts('completed', 'failed'), { timeout: 20_000, interval: 100 })
      .toEqual({ completed: 1, failed: FIELDS.length });
    for (const job of jobs) {
      const failed = await system.queue.getJob(job.id ?? '');
      expect(failed?.attemptsMade).toBe(1);
      expect(failed?.failedReason).toMatch(/must be well-formed Unicode/);
    }
    expect(system.target.received).toHaveLength(1);
  } finally {
    await system.close();
  }
});
