import { type EventType, queueNameOf, timestampNanos, VERSION_PATTERN } from '@flexprice/contracts';
import { FAMILY_FIXTURES } from '@flexprice/contracts/fixtures';
import { metricValue, redisTest } from '@flexprice/testing';
import { Queue } from 'bullmq';
import { Webhook } from 'standardwebhooks';
import { describe, expect } from 'vitest';
import { enqueue, FORWARD_SECRET, settled, startForwardTarget, startTestWorker } from './support.js';

// Forward routes, in process: the worker as main.ts composes it, a real Redis, a real HTTP target.

const ROTATING_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

const test = redisTest
  // biome-ignore lint/correctness/noEmptyPattern: vitest requires a destructuring pattern here.
  .extend('target', async ({}, { onCleanup }) => {
    const target = await startForwardTarget();
    onCleanup(() => target.close());
    return target;
  })
  .extend('worker', async ({ redis, target }, { onCleanup }) => {
    const worker = await startTestWorker(redis.url, {
      // Not every invoice event: one that arrives anyway (queued under an older configuration) has no handler.
      ENQUEUE_EVENTS:
        'customer.*,invoice.update.finalized,invoice.update.payment,invoice.communication.triggered,feature.*',
      FORWARD_ROUTES: [
        ...['invoice.update.finalized', 'invoice.update.payment', 'invoice.communication.triggered'].map(
          (type) => `${type}=${target.url}`,
        ),
        `feature.*=${target.url}`,
      ].join(','),
      FORWARD_SECRET: `${FORWARD_SECRET} ${ROTATING_SECRET}`,
      FORWARD_TIMEOUT_MS: '2000',
    });
    const queues = new Map<string, Queue>();
    const queueOf = (family: 'invoice' | 'feature') => {
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

const INVOICE = FAMILY_FIXTURES.invoice[0] as { invoice: Record<string, unknown> };
const invoice = (type: EventType, updatedAt: string, extra: Record<string, unknown> = {}) => ({
  event_type: type,
  invoice: { ...INVOICE.invoice, id: 'inv_routes_1', updated_at: updatedAt, ...extra },
});
const feature = (type: EventType, name: string) => ({
  event_type: type,
  feature: { id: 'feat_routes_1', name, lookup_key: 'api_calls', type: 'metered' },
});

/** What the target got: the event types and the invoice or feature state each carried. */
const got = (target: { received: { body: string }[] }) =>
  target.received.map((r) => {
    const body = JSON.parse(r.body) as {
      event_type: string;
      invoice?: { updated_at: string };
      feature?: { name: string };
    };
    return `${body.event_type} ${body.invoice?.updated_at ?? body.feature?.name ?? ''}`.trim();
  });

describe('a route forwards the event as Flexprice sent it', () => {
  test('signed with every FORWARD_SECRET, the idempotency key as webhook-id, the version in a header', async ({
    worker,
    target,
  }) => {
    const event = invoice('invoice.update.finalized', '2026-08-20T10:05:00.456Z');
    const job = await enqueue(worker.queueOf('invoice'), 'invoice.update.finalized', event, { key: 'id-msg_inv_1' });
    const { job: done } = await settled(worker.queueOf('invoice'), job);
    expect(done.returnvalue).toEqual({ outcome: 'applied', forwarded: 'sent' });
    const [request] = target.received;
    const headers = request?.headers as Record<string, string>;
    // Both secrets sign: a target that knows either one verifies (rotation).
    for (const secret of [FORWARD_SECRET, ROTATING_SECRET]) {
      expect(new Webhook(secret).verify(request?.body ?? '', headers)).toEqual(event);
    }
    expect(headers['webhook-id']).toBe('id-msg_inv_1');
    expect(headers['x-flexprice-event-type']).toBe('invoice.update.finalized');
    expect(headers['x-entity-version']).toMatch(VERSION_PATTERN);
    // Ordered by the invoice's own updated_at, at full precision.
    expect(headers['x-entity-version']?.slice(2, 22)).toBe(timestampNanos('2026-08-20T10:05:00.456Z'));
  });

  test('an event about no single entity goes at once, unordered', async ({ worker, target }) => {
    const [, alert] = FAMILY_FIXTURES.feature;
    const job = await enqueue(
      worker.queueOf('feature'),
      'feature.wallet_balance.alert',
      alert as Record<string, unknown>,
    );
    const { job: done } = await settled(worker.queueOf('feature'), job);
    expect(done.returnvalue).toEqual({ outcome: 'unordered', forwarded: 'sent' });
    expect(JSON.parse(target.received[0]?.body ?? '')).toEqual(alert);
  });

  test('a queued type of a consumed family without a handler fails for good, visibly', async ({ worker, target }) => {
    const queue = worker.queueOf('invoice');
    const job = await enqueue(queue, 'invoice.update.voided', invoice('invoice.update.voided', '2026-08-20T10:05:00Z'));
    const { state, job: done } = await settled(queue, job);
    expect(state).toBe('failed');
    expect(done.failedReason).toMatch(/^no handler for invoice\.update\.voided/);
    expect(target.received).toHaveLength(0);
  });
});

describe('ordered per entity', () => {
  test('an older invoice state after a newer one was acknowledged is not forwarded', async ({ worker, target }) => {
    const queue = worker.queueOf('invoice');
    const newer = await enqueue(
      queue,
      'invoice.update.payment',
      invoice('invoice.update.payment', '2026-08-20T10:06:00Z'),
    );
    await settled(queue, newer);
    const older = await enqueue(
      queue,
      'invoice.update.finalized',
      invoice('invoice.update.finalized', '2026-08-20T10:05:00Z'),
    );
    const { job: done } = await settled(queue, older);
    expect(done.returnvalue).toEqual({ outcome: 'skipped_stale', forwarded: 'skipped' });
    expect(got(target)).toEqual(['invoice.update.payment 2026-08-20T10:06:00Z']);
  });

  test('two events about one state (same updated_at) are both forwarded', async ({ worker, target }) => {
    const queue = worker.queueOf('invoice');
    const at = '2026-08-20T10:05:00.456Z';
    const sent = await enqueue(
      queue,
      'invoice.communication.triggered',
      invoice('invoice.communication.triggered', at),
    );
    const finalized = await enqueue(queue, 'invoice.update.finalized', invoice('invoice.update.finalized', at));
    await settled(queue, sent);
    await settled(queue, finalized);
    expect(got(target).sort()).toEqual([`invoice.communication.triggered ${at}`, `invoice.update.finalized ${at}`]);
  });

  test('a retry overtaken by a newer acknowledged state completes without forwarding', async ({ worker, target }) => {
    const queue = worker.queueOf('invoice');
    // The target refuses the older state once; the newer one goes through before its retry.
    let refused = false;
    target.setResponder((_n, body) => {
      if (!refused && body.includes('10:05:00Z')) {
        refused = true;
        return { status: 503 };
      }
      return { status: 200 };
    });
    const older = await enqueue(
      queue,
      'invoice.update.finalized',
      invoice('invoice.update.finalized', '2026-08-20T10:05:00Z'),
      {
        backoffMs: 500,
      },
    );
    await expect.poll(() => refused, { timeout: 5_000 }).toBe(true);
    const newer = await enqueue(
      queue,
      'invoice.update.payment',
      invoice('invoice.update.payment', '2026-08-20T10:06:00Z'),
    );
    await settled(queue, newer);
    const { job: done } = await settled(queue, older);
    expect(done.returnvalue).toEqual({ outcome: 'skipped_stale', forwarded: 'skipped' });
    expect(got(target)).toEqual([
      'invoice.update.finalized 2026-08-20T10:05:00Z',
      'invoice.update.payment 2026-08-20T10:06:00Z',
    ]);
    expect(target.received.map((r) => r.status)).toEqual([503, 200]);
  });

  test('a deletion is final: nothing after it is forwarded for that entity', async ({ worker, target }) => {
    const queue = worker.queueOf('feature');
    const deleted = await enqueue(queue, 'feature.deleted', feature('feature.deleted', 'gone'));
    await settled(queue, deleted);
    const late = await enqueue(queue, 'feature.updated', feature('feature.updated', 'revived'));
    const { job: done } = await settled(queue, late);
    expect(done.returnvalue).toEqual({ outcome: 'skipped_tombstone', forwarded: 'skipped' });
    expect(got(target)).toEqual(['feature.deleted gone']);
  });
});

describe('nothing waits unseen', () => {
  redisTest("a queue no worker consumes still shows its waiting jobs and the oldest one's age", async ({ redis }) => {
    // Queued under an older ENQUEUE_EVENTS: this worker consumes customers only.
    const worker = await startTestWorker(redis.url);
    const queue = new Queue(queueNameOf('wallet'), { connection: { url: redis.url }, prefix: worker.prefix });
    try {
      await enqueue(queue, 'wallet.created', FAMILY_FIXTURES.wallet[0] as Record<string, unknown>);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const text = await worker.metrics.registry.metrics();
      expect(metricValue(text, 'flexprice_queue_jobs', { queue: 'flexprice.wallet', state: 'waiting' })).toBe(1);
      expect(
        metricValue(text, 'flexprice_queue_oldest_waiting_age_seconds', { queue: 'flexprice.wallet' }),
      ).toBeGreaterThan(0);
      expect(metricValue(text, 'flexprice_queue_oldest_waiting_age_seconds', { queue: 'flexprice.invoice' })).toBe(0);
      expect(await queue.getWaitingCount()).toBe(1);
    } finally {
      await worker.close();
      await queue.close();
    }
  });
});
