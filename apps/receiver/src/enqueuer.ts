import { randomBytes } from 'node:crypto';
import {
  contentHash,
  type EventType,
  type Family,
  familyQueueNames,
  idempotencyKey,
  keySafe,
  layoutsKey,
  type Receipt,
  routeOf,
  shardOf,
  shardQueueName,
  type WebhookEvent,
  webhookJob,
  webhookJobOptions,
} from '@flexprice/contracts';
import { type RedisClient, type ReplicaWait, ReplicaWaitError } from '@flexprice/runtime';
import { Queue } from 'bullmq';
import { Cluster } from 'ioredis';
import type { Logger } from 'pino';
import { createAcceptor } from './acceptance.js';
import { isUnavailable } from './redis-errors.js';

/** `queue`: the queue's name, its shard's with QUEUE_SHARDS above 1 (`flexprice.customer.{3}`). */
export type EnqueueResult =
  | { status: 'queued' | 'duplicate'; jobId: string; queue: string; idempotencyKey: string }
  | { status: 'unavailable'; queue: string; error: Error }
  | { status: 'error'; queue: string; error: Error };

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

/** What picks a delivery's shard: its entity, else its delivery id, else its content (contracts' `shardOf`). */
const shardKeyOf = (delivery: Delivery): string =>
  delivery.entityId ?? delivery.deliveryId ?? contentHash(delivery.eventType, delivery.rawBody);

export interface EnqueuerOptions {
  /** A fail-fast connection: no offline queue, so a Redis outage surfaces as an error at once. */
  connection: RedisClient;
  prefix: string;
  /** QUEUE_SHARDS: an event goes to its entity's shard of its family's queues (contracts' `shards.ts`). */
  shards?: number;
  dedupeTtlSeconds: number;
  attempts: number;
  backoffMs: number;
  keepCompleted: number;
  /** Longest wait for Redis to take a job before the request is answered 503. */
  timeoutMs: number;
  /**
   * REDIS_WAIT_REPLICAS > 0: the job and its marks must reach that many replicas (a WAIT on this
   * connection) before the delivery counts as queued or duplicate; else it is unavailable (503).
   */
  replicas?: ReplicaWait | undefined;
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
 * Adds webhook jobs to their family's queue, stamped with the time a receiver accepted them
 * (`acceptedAt`, from Redis: see contracts' `versions.ts`), so the worker can tell which of two
 * deliveries was accepted last.
 *
 * A redelivery is a duplicate (`202 duplicate`, no second job) when:
 * - the sender gave a delivery id (Svix): the same id within DEDUPE_TTL_SECONDS (BullMQ's
 *   `deduplication`, checked in the Lua script that adds the job: never a mark without its job);
 * - natively (no id): its event type and bytes repeat the *latest* accepted delivery for that
 *   entity. A body is the entity's state, so X → Y → X is three states, and the third is queued
 *   (see `acceptance.ts`);
 * - natively, for the one event without an entity (`feature.wallet_balance.alert`): the same bytes
 *   within DEDUPE_TTL_SECONDS.
 */
export function createEnqueuer(options: EnqueuerOptions) {
  const shards = options.shards ?? 1;
  const shardedCluster = options.connection instanceof Cluster && shards > 1;
  const queues = new Map<string, Queue>();
  const jobOptions = webhookJobOptions(options);
  const ttl = options.dedupeTtlSeconds * 1000;
  const redis = options.connection;
  const acceptor = createAcceptor(redis, { markTtlSeconds: options.dedupeTtlSeconds });

  function queueFor(name: string): Queue {
    let queue = queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: redis, prefix: options.prefix });
      // Connection errors also reach the request that hit them; this keeps them from crashing us.
      queue.on('error', (err) => options.logger.warn({ err, queue: name }, 'queue connection error'));
      queues.set(name, queue);
    }
    return queue;
  }

  /**
   * What `add` decided, once the replicas hold it. A duplicate waits too: its original may still be
   * on the primary alone. Every path writes (the acceptance clock, and BullMQ's deduplicated event),
   * and a WAIT covers the replication stream up to this connection's last write, so the original
   * job is covered whichever receiver wrote it.
   */
  async function addReplicated(delivery: Delivery, family: Family, queue: Queue, name: string) {
    const { replicas } = options;
    const since = replicas?.generation() ?? 0;
    const result = await add(delivery, family, queue, name);
    await replicas?.confirm(since);
    return result;
  }

  async function add(delivery: Delivery, family: Family, queue: Queue, name: string) {
    const { eventType, deliveryId, entityId, rawBody } = delivery;
    const native = deliveryId === undefined && entityId !== undefined;
    const queueKey = `${options.prefix}:${name}`;
    // The acceptance clock and the entity's latest-delivery mark: on one server (or Sentinel's
    // primary) those of the family's one queue, whatever QUEUE_SHARDS, so that receivers of two
    // counts (a count changed, or changing in a rolling deploy) share them: per queue, an entity's
    // marks and clocks would differ between layouts (a new state taken for a duplicate of an older
    // one, a later delivery stamped earlier). On a sharded cluster the count never changes, and
    // they must share the job's queue's slot.
    const acceptKey = shardedCluster ? queueKey : `${options.prefix}:${shardQueueName(family, 0, 1)}`;
    // 120 random bits in 20 characters (no `:`): the job id is the tie-break of the event's version,
    // and a version under 64 bytes keeps each order mark in Redis' compact hash encoding (about
    // 410 bytes a mark instead of 680: docs/operations.md, "Sizing the order marks").
    const jobId = randomBytes(15).toString('base64url');
    const accepted = await acceptor.accept({
      queueKey,
      clockQueueKey: acceptKey,
      native: native
        ? { markKey: `${acceptKey}:latest:${keySafe(entityId)}`, content: contentHash(eventType, rawBody) }
        : undefined,
      jobId,
    });
    if (accepted.verdict === 'duplicate') {
      return { status: 'duplicate' as const, jobId: accepted.jobId, idempotencyKey: accepted.key };
    }
    const { acceptedAt } = accepted;

    const key = accepted.key || idempotencyKey({ deliveryId, eventType, rawBody });
    const job = webhookJob(eventType, delivery.event, { ...delivery.receipt, idempotencyKey: key, acceptedAt });
    const added = await queue.add(eventType, job, { ...jobOptions, jobId, deduplication: { id: key, ttl } });
    const id = added.id ?? jobId;
    return { status: id === jobId ? ('queued' as const) : ('duplicate' as const), jobId: id, idempotencyKey: key };
  }

  return {
    /**
     * Opens the queues (every shard) of these event types now, so the first webhook does not pay
     * for it, and records the shard count in Redis: the workers drain the queues of every count a
     * deployment has run with, so a count changed leaves no job behind (docs/operations.md).
     */
    async open(eventTypes: readonly EventType[]): Promise<void> {
      const families = new Set<Family>(eventTypes.map((type) => routeOf(type).family));
      const opened = [...families].flatMap((family) => familyQueueNames(family, shards).map(queueFor));
      await Promise.all(opened.map((queue) => queue.waitUntilReady()));
      await redis.sadd(layoutsKey(options.prefix), String(shards));
    },

    async enqueue(delivery: Delivery): Promise<EnqueueResult> {
      const { family } = routeOf(delivery.eventType);
      const name = shardQueueName(family, shards > 1 ? shardOf(shardKeyOf(delivery), shards) : 0, shards);
      const queue = queueFor(name);
      try {
        const result = await withTimeout(addReplicated(delivery, family, queue, name), options.timeoutMs);
        return { ...result, queue: name };
      } catch (caught) {
        const error = caught instanceof Error ? caught : new Error(String(caught));
        if (error instanceof EnqueueTimeoutError || error instanceof ReplicaWaitError || isUnavailable(error)) {
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
