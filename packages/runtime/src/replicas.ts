import type { z } from 'zod';
import { durationIn, optional, wholeNumber } from './env.js';
import type { RedisClient, RedisTarget } from './redis.js';

/**
 * Replica-confirmed writes. Redis replicates asynchronously: a write the primary answered can be
 * on the primary only when it dies, and gone once a replica is promoted. `WAIT n timeout` blocks
 * the connection until `n` replicas acknowledged every write sent before it on that connection
 * (or the timeout passed) and answers how many did.
 */
export const redisWaitEnv = {
  // Replicas that must hold a write before it counts: the receiver's 202, the worker's store
  // before a forward. 0: the primary alone (Redis' asynchronous replication).
  REDIS_WAIT_REPLICAS: wholeNumber(0, 16).default(0),
  // How long to wait for them; fewer in time: the receiver answers 503, the forward is retried.
  REDIS_WAIT_TIMEOUT_MS: optional(durationIn('ms', 10, 60_000)),
};

export interface ReplicaWaitSettings {
  replicas: number;
  timeoutMs: number;
}

/** The settings, or a problem with them; cluster mode cannot WAIT on the right node for us. */
export function replicaWaitOf(
  env: { REDIS_WAIT_REPLICAS: number; REDIS_WAIT_TIMEOUT_MS?: number | undefined },
  target: RedisTarget,
  ctx?: z.RefinementCtx,
): ReplicaWaitSettings {
  const settings = { replicas: env.REDIS_WAIT_REPLICAS, timeoutMs: env.REDIS_WAIT_TIMEOUT_MS ?? 1000 };
  if (ctx && settings.replicas > 0 && target.mode === 'cluster') {
    ctx.addIssue({
      code: 'custom',
      path: ['REDIS_WAIT_REPLICAS'],
      message: 'is not supported with REDIS_CLUSTER_NODES (WAIT would reach a random node): use 0',
    });
  }
  if (ctx && env.REDIS_WAIT_TIMEOUT_MS !== undefined && settings.replicas === 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['REDIS_WAIT_TIMEOUT_MS'],
      message: 'is only read with REDIS_WAIT_REPLICAS above 0',
    });
  }
  return settings;
}

/** Too few replicas confirmed in time, the WAIT failed, or the connection was lost under it. */
export class ReplicaWaitError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(`${message} (REDIS_WAIT_REPLICAS)`, options);
    this.name = 'ReplicaWaitError';
  }
}

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * `confirm(since)` resolves once REDIS_WAIT_REPLICAS replicas hold every write this connection sent
 * before the call, or rejects with a ReplicaWaitError. Concurrent calls share one WAIT: a call joins
 * the next WAIT to be sent (one that is already out may have left before its writes), and at most
 * one WAIT is out at a time, so under load one WAIT covers a whole batch of requests. With 0
 * replicas it resolves at once and sends nothing.
 *
 * A WAIT only speaks for the server it reaches. When the connection closes (a failover, a READONLY
 * reconnect, any reconnect), ioredis sends an unanswered WAIT again on the next connection, where
 * it would confirm the new primary's replicas for writes that primary may never have had. So each
 * connection gets a generation: `generation()` before the writes, `confirm(since)` after them, and
 * a close in between (or under the WAIT) fails the confirmation instead.
 */
export function createReplicaWait(connection: RedisClient, settings: ReplicaWaitSettings) {
  let next: Waiter[] = [];
  let out: Waiter[] = [];
  let sending = false;
  let generation = 0;

  connection.on('close', () => {
    generation += 1;
    const lost = new ReplicaWaitError('the Redis connection closed before the replicas confirmed the write');
    for (const waiter of [...out, ...next]) waiter.reject(lost);
    out = [];
    next = [];
  });

  function send(): void {
    const batch = next;
    next = [];
    out = batch;
    sending = true;
    const sentIn = generation;
    const settle = (error: Error | undefined) => {
      // A reply from another connection than the one the writes went over speaks for nothing.
      if (sentIn !== generation) return;
      out = [];
      for (const waiter of batch) error ? waiter.reject(error) : waiter.resolve();
    };
    // ioredis has no typed `wait`; `call` sends any command on this connection.
    (connection.call('WAIT', settings.replicas, settings.timeoutMs) as Promise<number>)
      .then(
        (confirmed) =>
          settle(
            Number(confirmed) >= settings.replicas
              ? undefined
              : new ReplicaWaitError(
                  `${confirmed} of ${settings.replicas} Redis replica(s) confirmed the write within ${settings.timeoutMs} ms`,
                ),
          ),
        // A demoted primary (UNBLOCKED, "WAIT cannot be used with replica instances"), a lost connection.
        (caught: unknown) =>
          settle(new ReplicaWaitError(`the WAIT for Redis replicas failed: ${String(caught)}`, { cause: caught })),
      )
      .finally(() => {
        sending = false;
        if (next.length > 0) send();
      });
  }

  return {
    settings,
    /** The connection's generation now: take it before the writes that `confirm` is to cover. */
    generation: () => generation,
    confirm(since: number): Promise<void> {
      if (settings.replicas === 0) return Promise.resolve();
      if (since !== generation) {
        return Promise.reject(
          new ReplicaWaitError('the Redis connection closed after the write, before the replicas confirmed it'),
        );
      }
      return new Promise((resolve, reject) => {
        next.push({ resolve, reject });
        if (!sending) send();
      });
    },
  };
}

export type ReplicaWait = ReturnType<typeof createReplicaWait>;

/**
 * How long a readiness check may wait for an answer on a connection that also carries WAITs: one
 * WAIT may be ahead of it.
 */
export function readinessDeadlineMs(settings: ReplicaWaitSettings): number {
  return 1_000 + (settings.replicas > 0 ? settings.timeoutMs : 0);
}

/**
 * For `/readyz`: a problem when the primary has fewer replicas online than REDIS_WAIT_REPLICAS
 * (every replica-confirmed write would then fail), or when that cannot be read in time; none
 * otherwise. Asked only of a connection that is up: a patient one would queue the INFO until Redis
 * is back (the readiness check's PING reports Redis being away).
 */
export async function replicaProblem(
  connection: RedisClient,
  settings: ReplicaWaitSettings,
): Promise<string | undefined> {
  const wanted = settings.replicas;
  const timeoutMs = readinessDeadlineMs(settings);
  if (wanted === 0 || connection.status !== 'ready') return undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const info = await Promise.race([
      connection.info('replication'),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    // Connected and in sync: a replica still loading the primary's data (right after a failover)
    // is listed but confirms nothing yet.
    const online = [...info.matchAll(/^slave\d+:.*\bstate=online\b/gm)].length;
    if (online >= wanted) return undefined;
    return `redis_replicas: the primary has ${online} replica(s) online, REDIS_WAIT_REPLICAS is ${wanted}`;
  } catch (error) {
    return `redis_replicas: could not read INFO replication (${error instanceof Error ? error.message : String(error)})`;
  } finally {
    clearTimeout(timer);
  }
}
