import type { z } from 'zod';
import { optional, wholeNumber } from './env.js';
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
  REDIS_WAIT_TIMEOUT_MS: optional(wholeNumber(10, 60_000)),
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

export class ReplicaWaitError extends Error {
  constructor(
    readonly confirmed: number,
    readonly wanted: number,
    timeoutMs: number,
  ) {
    super(
      `${confirmed} of ${wanted} Redis replica(s) confirmed the write within ${timeoutMs} ms (REDIS_WAIT_REPLICAS)`,
    );
    this.name = 'ReplicaWaitError';
  }
}

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * `confirm()` resolves once REDIS_WAIT_REPLICAS replicas hold every write this connection sent
 * before the call, or rejects with a ReplicaWaitError (or the connection's error). Concurrent calls
 * share one WAIT: a call joins the next WAIT to be sent (one that is already out may have left
 * before its writes), and at most one WAIT is out at a time, so under load one WAIT covers a whole
 * batch of requests. With 0 replicas it resolves at once and sends nothing.
 */
export function createReplicaWait(connection: RedisClient, settings: ReplicaWaitSettings) {
  let next: Waiter[] = [];
  let sending = false;

  function send(): void {
    const batch = next;
    next = [];
    sending = true;
    // ioredis has no typed `wait`; `call` sends any command on this connection.
    (connection.call('WAIT', settings.replicas, settings.timeoutMs) as Promise<number>)
      .then(
        (confirmed) => {
          const error =
            Number(confirmed) >= settings.replicas
              ? undefined
              : new ReplicaWaitError(Number(confirmed), settings.replicas, settings.timeoutMs);
          for (const waiter of batch) error ? waiter.reject(error) : waiter.resolve();
        },
        (caught: unknown) => {
          const error = caught instanceof Error ? caught : new Error(String(caught));
          for (const waiter of batch) waiter.reject(error);
        },
      )
      .finally(() => {
        sending = false;
        if (next.length > 0) send();
      });
  }

  return {
    settings,
    confirm(): Promise<void> {
      if (settings.replicas === 0) return Promise.resolve();
      return new Promise((resolve, reject) => {
        next.push({ resolve, reject });
        if (!sending) send();
      });
    },
  };
}

export type ReplicaWait = ReturnType<typeof createReplicaWait>;

/**
 * For `/readyz`: a problem when the primary has fewer connected replicas than REDIS_WAIT_REPLICAS
 * (every replica-confirmed write would then fail), none otherwise, or when Redis does not answer
 * (the readiness check's PING reports that).
 */
export async function replicaProblem(connection: RedisClient, wanted: number): Promise<string | undefined> {
  if (wanted === 0) return undefined;
  try {
    const info = await connection.info('replication');
    const connected = Number(/connected_slaves:(\d+)/.exec(info)?.[1] ?? 0);
    if (connected >= wanted) return undefined;
    return `redis_replicas: the primary has ${connected} connected replica(s), REDIS_WAIT_REPLICAS is ${wanted}`;
  } catch {
    return undefined;
  }
}
