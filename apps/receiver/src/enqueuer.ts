import { randomUUID } from 'node:crypto';
import {
  type EventType,
  type Family,
  type QueueName,
  routeOf,
  type WebhookJob,
  webhookJobOptions,
} from '@flexprice/contracts';
import type { RedisClient } from '@flexprice/runtime';
import { Queue } from 'bullmq';
import type { Logger } from 'pino';

export type EnqueueResult =
  | { status: 'queued' | 'duplicate'; jobId: string; queue: QueueName }
  | { status: 'unavailable'; queue: QueueName; error: Error };

export interface EnqueuerOptions {
  /** A fail-fast connection: no offline queue, so a Redis outage surfaces as an error at once. */
  connection: RedisClient;
  prefix: string;
  dedupeTtlSeconds: number;
  attempts: number;
  backoffMs: number;
  keepCompleted: number;
  /** Longest wait for Redis to take a job before the request is answered 503. */
  timeoutMs: number;
  logger: Logger;
}

class EnqueueTimeoutError extends Error {
  constructor(ms: number) {
    super(`Redis did not take the job within ${ms} ms`);
    this.name = 'EnqueueTimeoutError';
  }
}

/** `promise`, or an EnqueueTimeoutError after `ms`: one timer and one promise per request. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new EnqueueTimeoutError(ms)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * Adds webhook jobs to their family's queue. The deduplication mark and the job are written by one
 * Lua script (BullMQ's `deduplication` with a ttl), so there is never a mark without its job: a
 * failed add leaves nothing behind, and the sender's retry is queued normally.
 *
 * A duplicate is recognised by the id BullMQ returns: within the ttl it is the first job's id,
 * never the fresh one we asked for (even after that first job was completed and removed).
 */
export function createEnqueuer(options: EnqueuerOptions) {
  const queues = new Map<Family, Queue>();
  const jobOptions = webhookJobOptions(options);
  const ttl = options.dedupeTtlSeconds * 1000;

  function queueFor(family: Family, name: QueueName): Queue {
    let queue = queues.get(family);
    if (!queue) {
      queue = new Queue(name, { connection: options.connection, prefix: options.prefix });
      // Connection errors also reach the request that hit them; this keeps them from crashing us.
      queue.on('error', (err) => options.logger.warn({ err, queue: name }, 'queue connection error'));
      queues.set(family, queue);
    }
    return queue;
  }

  return {
    /** Opens the queues of these event types now, so the first webhook does not pay for it. */
    async open(eventTypes: readonly EventType[]): Promise<void> {
      const opened = eventTypes.map((type) => {
        const { family, queue } = routeOf(type);
        return queueFor(family, queue);
      });
      await Promise.all([...new Set(opened)].map((queue) => queue.waitUntilReady()));
    },

    async enqueue(job: WebhookJob): Promise<EnqueueResult> {
      const { family, queue: name } = routeOf(job.eventType);
      const queue = queueFor(family, name);
      const jobId = randomUUID();
      try {
        const added = await withTimeout(
          queue.add(job.eventType, job, {
            ...jobOptions,
            jobId,
            deduplication: { id: job.receipt.idempotencyKey, ttl },
          }),
          options.timeoutMs,
        );
        const id = added.id ?? jobId;
        return { status: id === jobId ? 'queued' : 'duplicate', jobId: id, queue: name };
      } catch (error) {
        return { status: 'unavailable', queue: name, error: error instanceof Error ? error : new Error(String(error)) };
      }
    },

    async close(): Promise<void> {
      await Promise.all([...queues.values()].map((queue) => queue.close()));
    },
  };
}

export type Enqueuer = ReturnType<typeof createEnqueuer>;
