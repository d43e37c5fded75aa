import { fileURLToPath } from 'node:url';
import { type EventType, queueNameOf, timestampNanos, VERSION_PATTERN } from '@flexprice/contracts';
import { FAMILY_FIXTURES } from '@flexprice/contracts/fixtures';
import { metricValue, redisTest, runNode, TEST_SECRET } from '@flexprice/testing';
import { Queue } from 'bullmq';
import { Webhook } from 'standardwebhooks';
import { describe, expect } from 'vitest';
import {
  enqueue,
  FORWARD_SECRET,
  type ForwardTarget,
  settled,
  startForwardTarget,
  startTestWorker,
  targetTest,
} from './support.js';

// Forward routes, in process: the worker as main.ts composes it, a real Redis, a real HTTP target.

const DLQ_CLI = fileURLToPath(new URL('../dist/cli/dlq.js', import.meta.url));
const ROTATING_SECRET = TEST_SECRET;

const test = targetTest.extend('worker', async ({ redis, target }, { onCleanup }) => {
  const worker = await startTestWorker(redis.url, {
    // Not every invoice event: one that arrives anyway (queued under an older configuration) has no handler.
    ENQUEUE_EVENTS:
      'customer.*,invoice.update.finalized,invoice.update.payment,invoice.communication.triggered,feature.*,subscription.line_item_spend.*',
    FORWARD_ROUTES: [
      ...['invoice.update.finalized', 'invoice.update.payment', 'invoice.communication.triggered'].map(
        (type) => `${type}=${target.url}`,
      ),
      `feature.*=${target.url}`,
      `subscription.line_item_spend.*=${target.url}`,
    ].join(','),
    FORWARD_SECRET: `${FORWARD_SECRET} ${ROTATING_SECRET}`,
    FORWARD_TIMEOUT_MS: '2000',
  });
  const queues = new Map<string, Queue>();
  const queueOf = (family: 'invoice' | 'feature' | 'spend_alert') => {
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

/** The target answers 503 to the first request whose body holds `marker`, 200 to every other; says whether it has refused. */
function refuseOnce(target: ForwardTarget, marker: string): () => boolean {
  let refused = false;
  target.setResponder((_n, body) => {
    if (!refused && body.includes(marker)) {
      refused = true;
      return { status: 503 };
    }
    return { status: 200 };
  });
  return () => refused;
}

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

  // Flexprice sends invoice.communication.triggered trimmed, without updated_at: it is versioned by
  // when it was accepted, a clock never compared with the invoice's own updated_at.
  const [, TRIMMED] = FAMILY_FIXTURES.invoice as Record<string, unknown>[];
  const email = { ...TRIMMED, invoice: { ...(TRIMMED?.invoice as object), id: 'inv_routes_1' } };

  test('an e-mail notification without updated_at and the invoice states are both forwarded, whatever their order', async ({
    worker,
    target,
  }) => {
    const queue = worker.queueOf('invoice');
    // The e-mail is accepted after the finalized invoice but processed before it (no pool: the
    // processor is called directly, in that order).
    await worker.pool.close(1_000);
    const finalized = await enqueue(
      queue,
      'invoice.update.finalized',
      invoice('invoice.update.finalized', '2026-08-20T10:05:00Z'),
    );
    const sent = await enqueue(queue, 'invoice.communication.triggered', email);
    expect(await worker.processor(sent)).toEqual({ outcome: 'applied', forwarded: 'sent' });
    expect(await worker.processor(finalized)).toEqual({ outcome: 'applied', forwarded: 'sent' });
    expect(got(target)).toEqual(['invoice.communication.triggered', 'invoice.update.finalized 2026-08-20T10:05:00Z']);
    expect(target.received.map((r) => r.headers['x-entity-version-clock'])).toEqual(['receipt', 'payload']);
  });

  test('a finalized invoice refused once still goes out after the e-mail notification was acknowledged', async ({
    worker,
    target,
  }) => {
    const queue = worker.queueOf('invoice');
    const refused = refuseOnce(target, 'invoice.update.finalized');
    const finalized = await enqueue(
      queue,
      'invoice.update.finalized',
      invoice('invoice.update.finalized', '2026-08-20T10:05:00Z'),
      {
        backoffMs: 500,
      },
    );
    await expect.poll(refused, { timeout: 5_000 }).toBe(true);
    await settled(queue, await enqueue(queue, 'invoice.communication.triggered', email));
    const { job: done } = await settled(queue, finalized);
    expect(done.returnvalue).toEqual({ outcome: 'applied', forwarded: 'sent' });
    expect(got(target)).toEqual([
      'invoice.update.finalized 2026-08-20T10:05:00Z',
      'invoice.communication.triggered',
      'invoice.update.finalized 2026-08-20T10:05:00Z',
    ]);
  });

  test('two events of one updated_at are both forwarded, the later accepted first', async ({ worker, target }) => {
    const queue = worker.queueOf('invoice');
    const at = '2026-08-20T10:05:00.456Z';
    await worker.pool.close(1_000);
    const finalized = await enqueue(queue, 'invoice.update.finalized', invoice('invoice.update.finalized', at));
    const paid = await enqueue(queue, 'invoice.update.payment', invoice('invoice.update.payment', at));
    expect(await worker.processor(paid)).toEqual({ outcome: 'applied', forwarded: 'sent' });
    expect(await worker.processor(finalized)).toEqual({ outcome: 'applied', forwarded: 'sent' });
    expect(got(target)).toEqual([`invoice.update.payment ${at}`, `invoice.update.finalized ${at}`]);
  });

  test("spend alerts of two line items are two streams; one line item's late alert is stale", async ({
    worker,
    target,
  }) => {
    const queue = worker.queueOf('spend_alert');
    const [native] = FAMILY_FIXTURES.spend_alert as Record<string, unknown>[];
    const type = 'subscription.line_item_spend.threshold_reached';
    const alert = (lineItem: string, at: string, status = 'in_alarm') => ({
      ...native,
      event_type: status === 'ok' ? 'subscription.line_item_spend.threshold_recovered' : type,
      subscription_line_item_id: lineItem,
      alert_status: status,
      triggered_at: at,
    });
    // Line item B's alert first, then A's, raised a second earlier: A is no older state of B.
    await settled(queue, await enqueue(queue, type, alert('li_B', '2026-08-21T08:00:01Z')));
    await settled(queue, await enqueue(queue, type, alert('li_A', '2026-08-21T08:00:00Z')));
    // B recovered; then B's reached alert, raised before the recovery, arrives late: stale.
    await settled(
      queue,
      await enqueue(
        queue,
        'subscription.line_item_spend.threshold_recovered',
        alert('li_B', '2026-08-21T09:00:00Z', 'ok'),
      ),
    );
    const late = await enqueue(queue, type, alert('li_B', '2026-08-21T08:30:00Z'));
    expect((await settled(queue, late)).job.returnvalue).toEqual({ outcome: 'skipped_stale', forwarded: 'skipped' });
    expect(
      target.received
        .map((r) => JSON.parse(r.body) as { subscription_line_item_id: string; alert_status: string })
        .map((b) => `${b.subscription_line_item_id} ${b.alert_status}`),
    ).toEqual(['li_B in_alarm', 'li_A in_alarm', 'li_B ok']);
  });

  test('a retry overtaken by a newer acknowledged state completes without forwarding', async ({ worker, target }) => {
    const queue = worker.queueOf('invoice');
    // The target refuses the older state once; the newer one goes through before its retry.
    const refused = refuseOnce(target, '10:05:00Z');
    const older = await enqueue(
      queue,
      'invoice.update.finalized',
      invoice('invoice.update.finalized', '2026-08-20T10:05:00Z'),
      {
        backoffMs: 500,
      },
    );
    await expect.poll(refused, { timeout: 5_000 }).toBe(true);
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

describe('pnpm dlq retry of a routed event', () => {
  test('refuses a dead letter queued before ENTITY_MARK_TTL_SECONDS unless --force', async ({
    redis,
    worker,
    target,
  }) => {
    target.setResponder(() => ({ status: 400 }));
    const queue = worker.queueOf('invoice');
    const old = await enqueue(
      queue,
      'invoice.update.payment',
      invoice('invoice.update.payment', '2026-08-20T10:06:00Z'),
      {
        queuedAt: Date.now() - 2 * 3600_000,
      },
    );
    const recent = await enqueue(
      queue,
      'invoice.update.payment',
      invoice('invoice.update.payment', '2026-08-20T10:07:00Z'),
    );
    expect((await settled(queue, old)).state).toBe('failed');
    expect((await settled(queue, recent)).state).toBe('failed');
    target.setResponder(() => ({ status: 200 }));

    const env = {
      REDIS_URL: redis.url,
      QUEUE_PREFIX: worker.prefix,
      STORE_PREFIX: `${worker.prefix}-store`,
      ENQUEUE_EVENTS: 'customer.*,invoice.update.payment',
      FORWARD_ROUTES: `invoice.update.payment=${target.url}`,
      FORWARD_SECRET,
      ENTITY_MARK_TTL_SECONDS: '3600',
    };
    const all = runNode(DLQ_CLI, env, ['retry', '--all', '--queue', 'flexprice.invoice']);
    expect(await all.exited).toBe(1);
    expect(all.output()).toContain(
      `not retried flexprice.invoice ${old.id} (invoice.update.payment): queued before ENTITY_MARK_TTL_SECONDS`,
    );
    expect(all.output()).toContain('1 job(s) moved back to waiting, 1 too old (--force)');
    await expect.poll(() => queue.getJobState(recent.id ?? ''), { timeout: 10_000 }).toBe('completed');
    expect(await queue.getJobState(old.id ?? '')).toBe('failed');

    const forced = runNode(DLQ_CLI, env, ['retry', old.id ?? '', '--force']);
    expect(await forced.exited).toBe(0);
    await expect.poll(() => queue.getJobState(old.id ?? ''), { timeout: 10_000 }).toBe('completed');
    // Forced, it went through the order check all the same: older than the acknowledged 10:07, stale.
    expect((await queue.getJob(old.id ?? ''))?.returnvalue).toEqual({ outcome: 'skipped_stale', forwarded: 'skipped' });
  });
});

/**
 * A worker routing invoice.update.payment to a target that answers its first request only after
 * `firstDelayMs`, while the route's timeout is 300 ms: that first forward times out at the worker
 * and still reaches the target.
 */
async function slowPaymentRoute(redisUrl: string, firstDelayMs: number) {
  const target = await startForwardTarget((n) => ({ status: 200, delayMs: n === 0 ? firstDelayMs : 0 }));
  const worker = await startTestWorker(redisUrl, {
    ENQUEUE_EVENTS: 'customer.*,invoice.update.payment',
    FORWARD_ROUTES: `invoice.update.payment=${target.url}`,
    FORWARD_SECRET,
    FORWARD_TIMEOUT_MS: '300',
  });
  const queue = new Queue(queueNameOf('invoice'), { connection: { url: redisUrl }, prefix: worker.prefix });
  return {
    target,
    queue,
    async close() {
      await worker.close();
      await queue.close();
      await target.close();
    },
  };
}

describe('routes, one by one', () => {
  redisTest(
    'a forward that timed out keeps its entity until its lock lapses: the next one does not overtake it',
    async ({ redis }) => {
      const { target, queue, close } = await slowPaymentRoute(redis.url, 1_500);
      try {
        const first = await enqueue(
          queue,
          'invoice.update.payment',
          invoice('invoice.update.payment', '2026-08-20T10:05:00Z'),
        );
        await expect.poll(() => target.received.length, { timeout: 5_000 }).toBe(1);
        const second = await enqueue(
          queue,
          'invoice.update.payment',
          invoice('invoice.update.payment', '2026-08-20T10:06:00Z'),
        );
        await settled(queue, second, 15_000);
        // The first was still being answered (1.5 s) when its forward timed out (0.3 s): the next
        // request reached the target only after the lock lapsed (0.3 + 2 s after it was taken).
        const [firstAt, secondAt] = target.received.map((r) => r.at);
        expect((secondAt ?? 0) - (firstAt ?? 0)).toBeGreaterThanOrEqual(1_500);
        // Then either the timed-out one's retry or the newer one took the lock first; once the newer
        // state was acknowledged, nothing older followed it.
        expect((await settled(queue, first, 15_000)).state).toBe('completed');
        const sent = got(target);
        expect(sent.at(-1)).toBe('invoice.update.payment 2026-08-20T10:06:00Z');
        expect(sent.indexOf('invoice.update.payment 2026-08-20T10:06:00Z')).toBe(sent.length - 1);
      } finally {
        await close();
      }
    },
  );

  redisTest('customer events claimed by two patterns for one URL are all forwarded', async ({ redis }) => {
    const target = await startForwardTarget();
    const worker = await startTestWorker(redis.url, {
      ENQUEUE_EVENTS: 'customer.*,wallet.created',
      FORWARD_ROUTES: `customer.created=${target.url} *=${target.url}`,
      FORWARD_SECRET,
    });
    try {
      const customer = FAMILY_FIXTURES.customer[0] as { customer: Record<string, unknown> };
      for (const type of ['customer.created', 'customer.updated'] as const) {
        const job = await enqueue(worker.queue, type, { ...customer, event_type: type });
        expect((await settled(worker.queue, job)).job.returnvalue).toMatchObject({ forwarded: 'sent' });
      }
      expect(target.received.map((r) => r.headers['x-flexprice-event-type'])).toEqual([
        'customer.created',
        'customer.updated',
      ]);
    } finally {
      await worker.close();
      await target.close();
    }
  });
});

describe('what may have reached the target counts', () => {
  redisTest(
    'a newer event whose forward timed out (the target took it) lets no older one out after it',
    async ({ redis }) => {
      // The target takes 10:06 but answers it too late; 10:05, accepted after, must not follow it.
      const { target, queue, close } = await slowPaymentRoute(redis.url, 1_000);
      try {
        const newer = await enqueue(
          queue,
          'invoice.update.payment',
          invoice('invoice.update.payment', '2026-08-20T10:06:00Z'),
          {
            backoffMs: 500,
          },
        );
        await expect.poll(() => target.received.length, { timeout: 5_000 }).toBe(1);
        const older = await enqueue(
          queue,
          'invoice.update.payment',
          invoice('invoice.update.payment', '2026-08-20T10:05:00Z'),
        );
        expect((await settled(queue, older, 15_000)).job.returnvalue).toEqual({
          outcome: 'skipped_stale',
          forwarded: 'skipped',
        });
        await settled(queue, newer, 20_000);
        expect(got(target).every((line) => line.endsWith('10:06:00Z'))).toBe(true);
      } finally {
        await close();
      }
    },
  );

  test('a live event retried after a deletion on the other clock is not forwarded', async ({ worker, target }) => {
    const queue = worker.queueOf('feature');
    // The update (no updated_at: acceptance clock) is refused once; the deletion (with updated_at:
    // payload clock) goes through; the update's retry must not revive the feature at the target.
    const refused = refuseOnce(target, 'feature.updated');
    const updated = await enqueue(queue, 'feature.updated', feature('feature.updated', 'renamed'), { backoffMs: 500 });
    await expect.poll(refused, { timeout: 5_000 }).toBe(true);
    const gone = feature('feature.deleted', 'gone');
    const deleted = await enqueue(queue, 'feature.deleted', {
      ...gone,
      feature: { ...gone.feature, updated_at: '2026-08-20T10:00:00Z' },
    });
    await settled(queue, deleted);
    expect((await settled(queue, updated)).job.returnvalue).toEqual({
      outcome: 'skipped_tombstone',
      forwarded: 'skipped',
    });
    expect(got(target)).toEqual(['feature.updated renamed', 'feature.deleted gone']);
    expect(target.received.map((r) => r.status)).toEqual([503, 200]);
  });
});

describe('ids that are not well-formed Unicode (a lone UTF-16 surrogate), queued behind the receiver', () => {
  // The receivers answer 422 to these; a job that holds one anyway (queued by an older receiver,
  // or edited into the queue) must not burn its attempts on an encoding error.
  test('fail at once and for good, naming the field: no retries, no URIError, nothing stored or sent', async ({
    worker,
    target,
  }) => {
    const customer = (field: string) => ({
      event_type: 'customer.created',
      customer: {
        id: field === 'id' ? 'cust_\ud800' : 'cust_lone_surrogate',
        external_id: field === 'external_id' ? 'ext-\ud800' : 'ext-ok',
        environment_id: field === 'environment_id' ? 'env_\udc00' : 'env_ok',
        name: 'Lone surrogate',
      },
    });
    const jobs = await Promise.all([
      ...['id', 'external_id', 'environment_id'].map((field) =>
        enqueue(worker.queue, 'customer.created', customer(field)),
      ),
      enqueue(
        worker.queueOf('invoice'),
        'invoice.update.finalized',
        invoice('invoice.update.finalized', '2026-08-20T10:00:00Z', { id: 'inv_\ud800' }),
      ),
    ]);
    const queues = [worker.queue, worker.queue, worker.queue, worker.queueOf('invoice')];
    for (const [i, job] of jobs.entries()) {
      const done = await settled(queues[i] as Queue, job);
      expect(done.state).toBe('failed');
      expect(done.job.attemptsMade).toBe(1);
      expect(done.job.failedReason).toMatch(/invalid job data: event\.\w+\.\w+: must be well-formed Unicode/);
      expect(done.job.failedReason).not.toContain('URI');
    }
    expect(await worker.store.get('cust_lone_surrogate')).toBeUndefined();
    expect(target.received).toEqual([]);
  });
});
