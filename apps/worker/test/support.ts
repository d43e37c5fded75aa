import { type EventType, webhookJob, webhookJobOptions } from '@flexprice/contracts';
import { redisTest, startForwardTarget, TEST_OTHER_SECRET, uniquePrefix } from '@flexprice/testing';
import { type Job, Queue } from 'bullmq';
import { pino } from 'pino';
import { expect } from 'vitest';
import { loadConfig } from '../src/config.js';
import { startWorker } from '../src/service.js';

/** What the test workers sign their forwards with. */
export const FORWARD_SECRET = TEST_OTHER_SECRET;

// The HTTP targets forwards go to live in @flexprice/testing (the system tests use them too).
export {
  type EntityRequest,
  type EntityTarget,
  type ForwardTarget,
  type Received,
  type Responder,
  startEntityTarget,
  startForwardTarget,
} from '@flexprice/testing';

/** A real Redis and an HTTP forward target of the test's own, closed when the test ends. */
export const targetTest = redisTest
  // biome-ignore lint/correctness/noEmptyPattern: vitest requires a destructuring pattern here.
  .extend('target', async ({}, { onCleanup }) => {
    const target = await startForwardTarget();
    onCleanup(() => target.close());
    return target;
  });

/** The worker as `main.ts` composes it, with a queue and store prefix of its own. */
export async function startTestWorker(redisUrl: string, env: Record<string, string> = {}) {
  const prefix = uniquePrefix('wrk');
  const config = loadConfig({
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    STORE_PREFIX: `${prefix}-store`,
    FORWARD_SECRET,
    FORWARD_TIMEOUT_MS: '2000',
    ...env,
  });
  const { store, processor, pool, metrics, agreement, close, isReady, problems } = startWorker(
    config,
    pino({ level: 'silent' }),
  );
  const queue = new Queue('flexprice.customer', { connection: { url: redisUrl }, prefix });
  return {
    prefix,
    store,
    processor,
    queue,
    pool,
    metrics,
    agreement,
    isReady,
    problems,
    async close() {
      await close(5_000);
      await queue.close();
    },
  };
}

export type TestWorker = Awaited<ReturnType<typeof startTestWorker>>;

let sequence = 0;

/** Waits until a job completed or failed for good; returns its final state and the job as it ended. */
export async function settled(queue: Queue, job: Job, timeout = 10_000) {
  await expect
    .poll(async () => queue.getJobState(job.id ?? ''), { timeout, interval: 25 })
    .toMatch(/^(completed|failed)$/);
  const finished = await queue.getJob(job.id ?? '');
  if (!finished) throw new Error(`job ${job.id} vanished`);
  return { state: await finished.getState(), job: finished };
}

/** Queues a job the way the receiver does (same data shape and options). */
export async function enqueue(
  queue: Queue,
  eventType: EventType,
  event: Record<string, unknown>,
  options: { key?: string; attempts?: number; backoffMs?: number; queuedAt?: number } = {},
) {
  sequence += 1;
  const key = options.key ?? `id-msg_test_${sequence}_${Date.now()}`;
  const data = webhookJob(eventType, event, {
    receivedAt: new Date().toISOString(),
    // As the receiver does: `id-<delivery id>` for deliveries with an id, natively none.
    deliveryId: key.startsWith('id-') ? key.slice(3) : null,
    idempotencyKey: key,
    requestId: `req-${sequence}`,
    inferredEventType: false,
  });
  const opts = webhookJobOptions({
    attempts: options.attempts ?? 5,
    backoffMs: options.backoffMs ?? 10,
    keepCompleted: 1000,
  });
  return queue.add(eventType, data, {
    ...opts,
    ...(options.queuedAt !== undefined && { timestamp: options.queuedAt }),
  });
}
