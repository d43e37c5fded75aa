import { type EventType, type Family, queueNameOf } from '@flexprice/contracts';
import { FAMILY_FIXTURES } from '@flexprice/contracts/fixtures';
import { type EntityTarget, startEntityTarget, startFlexpriceApiStandIn } from '@flexprice/testing';
import { Queue } from 'bullmq';
import { describe, expect } from 'vitest';
import { enqueue, FORWARD_SECRET, settled, startTestWorker, targetTest } from './support.js';

// The API pipeline for the families other than customers, in process: what a job of each reads,
// what it forwards, how a family ends (deleted, or unknown), and what still goes out from its body.

const KEY = 'test-api-key-0123456789';
const ENV = 'env_01K2ZQ0A1B2C3D4E5F6G7H8J9K';

const test = targetTest
  // biome-ignore lint/correctness/noEmptyPattern: vitest requires a destructuring pattern here.
  .extend('api', async ({}, { onCleanup }) => {
    const api = await startFlexpriceApiStandIn({ apiKey: KEY, environmentId: ENV });
    onCleanup(() => api.close());
    return api;
  })
  // biome-ignore lint/correctness/noEmptyPattern: vitest requires a destructuring pattern here.
  .extend('routes', async ({}, { onCleanup }) => {
    const routes = await startEntityTarget();
    onCleanup(() => routes.close());
    return routes;
  })
  .extend('worker', async ({ redis, api, routes }, { onCleanup }) => {
    const worker = await startTestWorker(redis.url, {
      ENQUEUE_EVENTS: '*',
      FORWARD_ROUTES: `*=${routes.url}`,
      FORWARD_SECRET,
      FLEXPRICE_API_KEY: KEY,
      FLEXPRICE_API_URL: api.url,
      FLEXPRICE_API_NOT_FOUND_CONFIRM_MS: '1000',
    });
    const queues = new Map<Family, Queue>();
    const queueOf = (family: Family) => {
      const queue =
        queues.get(family) ?? new Queue(queueNameOf(family), { connection: { url: redis.url }, prefix: worker.prefix });
      queues.set(family, queue);
      return queue;
    };
    onCleanup(async () => {
      await worker.close();
      for (const queue of queues.values()) await queue.close();
    });
    return Object.assign(worker, { queueOf });
  });

/** A fixture of the event type, about entity `id`. */
function event(type: EventType, key: string, id: string): Record<string, unknown> {
  const fixtures = Object.values(FAMILY_FIXTURES).flat() as Record<string, unknown>[];
  const fixture = fixtures.find((f) => f.event_type === type) ?? fixtures.find((f) => key in f);
  const body = structuredClone(fixture ?? {}) as Record<string, Record<string, unknown>>;
  return { ...body, event_type: type, [key]: { ...body[key], id } };
}

const bodies = (routes: EntityTarget) => routes.acknowledged.map((r) => JSON.parse(r.body) as Record<string, never>);

describe('families with a deletion event', () => {
  test('a feature the API shows archived is forwarded once as feature.deleted, with its API state; nothing after it', async ({
    api,
    worker,
    routes,
  }) => {
    const features = api.family('feature');
    features.upsert({ id: 'feat_gone', name: 'Gone soon' });
    const queue = worker.queueOf('feature');
    await settled(queue, await enqueue(queue, 'feature.created', event('feature.created', 'feature', 'feat_gone')));
    features.archive('feat_gone');
    // The webhook says "updated" (a stale one): the API says archived, and that is what goes out.
    const gone = await settled(
      queue,
      await enqueue(queue, 'feature.updated', event('feature.updated', 'feature', 'feat_gone')),
    );
    expect(gone.job.returnvalue).toEqual({ outcome: 'applied', forwarded: 'sent' });
    expect(routes.acknowledged.map((r) => r.eventType)).toEqual(['feature.created', 'feature.deleted']);
    expect(bodies(routes).at(-1)).toMatchObject({ feature: { id: 'feat_gone', status: 'archived' } });
    // A later webhook of any kind finds the tombstone.
    features.upsert({ id: 'feat_gone', name: 'Back?', status: 'published' });
    const after = await settled(
      queue,
      await enqueue(queue, 'feature.updated', event('feature.updated', 'feature', 'feat_gone')),
    );
    expect(after.job.returnvalue).toEqual({ outcome: 'skipped_tombstone', forwarded: 'skipped' });
    expect(routes.acknowledged).toHaveLength(2);
  });

  test('an entitlement the API does not know, whose webhook names no environment, is a dead letter, not a deletion', async ({
    worker,
    routes,
  }) => {
    const queue = worker.queueOf('entitlement');
    const failed = await settled(
      queue,
      await enqueue(queue, 'entitlement.updated', event('entitlement.updated', 'entitlement', 'ent_never')),
    );
    expect(failed.state).toBe('failed');
    expect(failed.job.failedReason).toMatch(/does not know entitlement ent_never/);
    expect(routes.requests).toHaveLength(0);
  });
});

describe('what the API answers, as it sent it', () => {
  test('a payment the SDK 2.0.1 models refuse (destination_type CUSTOMER) is forwarded as the API sent it', async ({
    api,
    worker,
    routes,
  }) => {
    api.family('payment').upsert({ id: 'pay_card', destination_type: 'CUSTOMER', destination_id: 'cust_1' });
    const queue = worker.queueOf('payment');
    const done = await settled(
      queue,
      await enqueue(queue, 'payment.success', event('payment.success', 'payment', 'pay_card')),
    );
    expect(done.job.returnvalue).toEqual({ outcome: 'applied', forwarded: 'sent' });
    expect(bodies(routes)).toEqual([
      { event_type: 'payment.success', payment: api.family('payment').served('pay_card') },
    ]);
  });

  test('a credit note is read by id (the API has no search of them), and one state is forwarded once', async ({
    api,
    worker,
    routes,
  }) => {
    api.family('credit_note').upsert({ id: 'cn_1', metadata: { crmId: 'CRM-7' } });
    const queue = worker.queueOf('credit_note');
    for (const type of ['credit_note.created', 'credit_note.updated'] as const) {
      await settled(queue, await enqueue(queue, type, event(type, 'credit_note', 'cn_1')));
    }
    expect(api.calls.filter((c) => c.path.startsWith('/v1/creditnotes')).map((c) => c.path)).toEqual([
      '/v1/creditnotes/cn_1',
      '/v1/creditnotes/cn_1',
    ]);
    expect(bodies(routes)).toEqual([
      { event_type: 'credit_note.created', credit_note: api.family('credit_note').served('cn_1') },
    ]);
  });

  test("an announcement goes out once per delivery with the invoice's current state, even when that state was forwarded", async ({
    worker,
    routes,
    api,
  }) => {
    api.family('invoice').upsert({ id: 'inv_announced', invoice_status: 'FINALIZED' });
    const queue = worker.queueOf('invoice');
    await settled(
      queue,
      await enqueue(queue, 'invoice.update.finalized', event('invoice.update.finalized', 'invoice', 'inv_announced')),
    );
    for (const type of [
      'invoice.payment.overdue',
      'invoice.communication.triggered',
      'invoice.payment.overdue',
    ] as const) {
      const done = await settled(queue, await enqueue(queue, type, event(type, 'invoice', 'inv_announced')));
      expect(done.job.returnvalue, `${type} ${done.job.failedReason}`).toMatchObject({ forwarded: 'sent' });
    }
    const served = api.family('invoice').served('inv_announced');
    expect(bodies(routes)).toEqual(
      [
        'invoice.update.finalized',
        'invoice.payment.overdue',
        'invoice.communication.triggered',
        'invoice.payment.overdue',
      ].map((event_type) => ({ event_type, invoice: served })),
    );
    // The state's own forward has the state's id; each announcement the id of its delivery.
    const ids = routes.acknowledged.map((r) => String(r.headers['webhook-id']));
    expect(new Set(ids).size).toBe(4);
    expect(ids[0]).toMatch(/^st-/);
  });

  test("a wallet's transaction and an alert go out from their body, as without a key", async ({
    worker,
    routes,
    api,
  }) => {
    const sent: Record<string, unknown>[] = [];
    for (const [family, type, key] of [
      ['wallet', 'wallet.transaction.created', 'transaction'],
      ['wallet_alert', 'wallet.credit_balance.dropped', 'wallet'],
    ] as const) {
      const body = event(type, key, `${key}_from_body`);
      sent.push(body);
      const queue = worker.queueOf(family);
      await settled(queue, await enqueue(queue, type, body));
    }
    expect(bodies(routes)).toEqual(sent);
    expect(api.calls).toHaveLength(0);
  });
});
