import { randomUUID } from 'node:crypto';
import {
  contentHash,
  type EventType,
  type Family,
  idempotencyKey,
  keySafe,
  microsFromRedisTime,
  type QueueName,
  type Receipt,
  routeOf,
  type WebhookEvent,
  type WebhookJob,
  webhookJobOptions,
} from '@flexprice/contracts';
import type { RedisClient } from '@flexprice/runtime';
import { Queue } from 'bullmq';
import type { Logger } from 'pino';
import { isUnavailable } from './redis-errors.js';

export type EnqueueResult =
  | { status: 'queued' | 'duplicate'; jobId: string; queue: QueueName; idempotencyKey: string }
  | { status: 'unavailable'; queue: QueueName; error: Error }
  | { status: 'error'; queue: QueueName; error: Error };

/** A validated delivery, and what identifies it. */
export interface Delivery {
  eventType: EventType;
  event: WebhookEvent;
  /** The receipt without what the enqueuer decides: the idempotency key and the acceptance time. */
  receipt: Omit<Receipt, 'idempotencyKey' | 'acceptedAt'>;
  /** The sender's delivery id (`svix-id` / `webhook-id`), when it gave one. */
  deliveryId: string | undefined;
  /** The id of the entity the event carries (contracts' `entityIdOf`), when it names one. */
  entityId: string | undefined;
  rawBody: Uint8Array;
}

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

// Read-only: Redis' clock, and (natively) the entity's latest-delivery mark. KEYS[1] is that mark, or
// any key of the queue: it only routes the call to the queue's node in a cluster, whose clock then
// stamps every delivery of that queue.
const ACCEPT_SCRIPT = `
local now = redis.call('TIME')
local latest = false
if ARGV[1] == '1' then latest = redis.call('GET', KEYS[1]) end
return {now[1], now[2], latest}
`;

// The latest-delivery mark moves forward only: its value starts with the fixed-width acceptance time.
const MARK_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current and current >= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
`;

interface EnqueuerCommands {
  acceptDelivery(routeKey: string, readLatest: '0' | '1'): Promise<[string, string, string | null]>;
  markLatestDelivery(markKey: string, value: string, ttlSeconds: string): Promise<number>;
}

/** `<accepted at>.<job id> <content hash> <job id> <idempotency key>`: an entity's latest delivery. */
function parseMark(value: string | null): { content: string; jobId: string; key: string } | undefined {
  const [, content, jobId, key] = value?.split(' ') ?? [];
  return content && jobId && key ? { content, jobId, key } : undefined;
}

/**
 * Adds webhook jobs to their family's queue, stamped with Redis' time, so that the worker can tell
 * which of two deliveries was accepted last (`acceptedAt`, see contracts' `versions.ts`).
 *
 * A redelivery is a duplicate (`202 duplicate`, no second job) when:
 * - the sender gave a delivery id (Svix): the same id within DEDUPE_TTL_SECONDS;
 * - natively (no id): its bytes repeat the *latest* accepted delivery of that event type for that
 *   entity. A body is the entity's state, so X → Y → X is three states, and the third is queued.
 *   The idempotency key chains the content to the entity's previous delivery's key, and BullMQ's
 *   `deduplication` (checked in the Lua script that adds the job) keeps two concurrent copies of one
 *   delivery, or a retry after the mark could not be written, to one job.
 *
 * The BullMQ dedupe mark and the job are written by one script, so there is never a mark without
 * its job: a failed add leaves nothing behind, and the sender's retry is queued normally. The
 * latest-delivery mark is written after the job: without it a retry is still recognised by its key.
 */
export function createEnqueuer(options: EnqueuerOptions) {
  const queues = new Map<Family, Queue>();
  const jobOptions = webhookJobOptions(options);
  const ttl = options.dedupeTtlSeconds * 1000;
  const redis = options.connection;
  if (!('acceptDelivery' in redis)) {
    redis.defineCommand('acceptDelivery', { numberOfKeys: 1, lua: ACCEPT_SCRIPT });
    redis.defineCommand('markLatestDelivery', { numberOfKeys: 1, lua: MARK_SCRIPT });
  }
  const commands = redis as unknown as EnqueuerCommands;

  function queueFor(family: Family, name: QueueName): Queue {
    let queue = queues.get(family);
    if (!queue) {
      queue = new Queue(name, { connection: redis, prefix: options.prefix });
      // Connection errors also reach the request that hit them; this keeps them from crashing us.
      queue.on('error', (err) => options.logger.warn({ err, queue: name }, 'queue connection error'));
      queues.set(family, queue);
    }
    return queue;
  }

  async function add(delivery: Delivery, queue: Queue, name: QueueName) {
    const { eventType, deliveryId, entityId, rawBody } = delivery;
    const native = deliveryId === undefined && entityId !== undefined;
    const markKey = native ? `${options.prefix}:${name}:latest:${eventType}:${keySafe(entityId)}` : undefined;
    const [seconds, micros, latestMark] = await commands.acceptDelivery(
      markKey ?? `${options.prefix}:${name}:meta`,
      native ? '1' : '0',
    );
    const acceptedAt = microsFromRedisTime(seconds, micros);
    const content = native ? contentHash(eventType, rawBody) : undefined;
    const latest = parseMark(latestMark);
    if (content !== undefined && latest?.content === content) {
      return { status: 'duplicate' as const, jobId: latest.jobId, idempotencyKey: latest.key };
    }

    const key = idempotencyKey({ deliveryId, eventType, rawBody, previous: latest?.key });
    const jobId = randomUUID();
    const job: WebhookJob = {
      eventType,
      event: delivery.event,
      receipt: { ...delivery.receipt, idempotencyKey: key, acceptedAt },
    };
    const added = await queue.add(eventType, job, { ...jobOptions, jobId, deduplication: { id: key, ttl } });
    const id = added.id ?? jobId;
    if (id !== jobId) return { status: 'duplicate' as const, jobId: id, idempotencyKey: key };
    if (markKey !== undefined) {
      const mark = `${acceptedAt}.${jobId} ${content} ${jobId} ${key}`;
      await commands.markLatestDelivery(markKey, mark, String(options.dedupeTtlSeconds));
    }
    return { status: 'queued' as const, jobId, idempotencyKey: key };
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

    async enqueue(delivery: Delivery): Promise<EnqueueResult> {
      const { family, queue: name } = routeOf(delivery.eventType);
      const queue = queueFor(family, name);
      try {
        const result = await withTimeout(add(delivery, queue, name), options.timeoutMs);
        return { ...result, queue: name };
      } catch (caught) {
        const error = caught instanceof Error ? caught : new Error(String(caught));
        if (error instanceof EnqueueTimeoutError || isUnavailable(error)) {
          return { status: 'unavailable', queue: name, error };
        }
        return { status: 'error', queue: name, error };
      }
    },

    async close(): Promise<void> {
      await Promise.all([...queues.values()].map((queue) => queue.close()));
    },
  };
}

export type Enqueuer = ReturnType<typeof createEnqueuer>;
