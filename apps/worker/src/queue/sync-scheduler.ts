import { type ApiFamily, SYNC_QUEUE } from '@flexprice/contracts';
import { createRedis, type RedisClient, type RedisTarget, reportRedisErrors } from '@flexprice/runtime';
import { Queue, Worker } from 'bullmq';
import type { Logger } from 'pino';
import { type ReconcilerDeps, runSync } from '../entities/reconciler.js';
import type { WorkerMetrics } from '../metrics.js';

export interface SyncSchedulerOptions {
  redis: RedisTarget;
  /** The store's connection (the watermarks and the queue handle). */
  storeRedis: RedisClient;
  queuePrefix: string;
  /** The queue's name (contracts' `syncQueueName`: `SYNC_QUEUE`, tagged on a sharded cluster). */
  queueName?: string;
  storePrefix: string;
  intervalMs: number;
  lockDurationMs: number;
  families: readonly ApiFamily[];
  deps: ReconcilerDeps;
  logger: Logger;
  metrics: WorkerMetrics;
}

/**
 * SYNC_INTERVAL: the reconciler as a BullMQ job scheduler, on the sync queue (contracts'
 * `SYNC_QUEUE`, which the dashboard, the gauges and `pnpm dlq` know). Every replica upserts the same
 * scheduler (one job per interval, whatever the number of replicas) and runs a worker for it; the
 * queue's global concurrency of 1 makes a run that outlasts the interval the only one. A run cut
 * off by a crash is retried once its lock lapses, and resumes from the watermarks it saved.
 */
export function startSyncScheduler(options: SyncSchedulerOptions) {
  const { intervalMs, metrics, families } = options;
  const log = options.logger.child({ queue: SYNC_QUEUE });
  const name = options.queueName ?? SYNC_QUEUE;
  const queue = new Queue(name, { connection: options.storeRedis, prefix: options.queuePrefix });
  reportRedisErrors(queue, log, SYNC_QUEUE);
  Promise.all([
    // The scheduler's id is persisted state: the one releases before every family kept it.
    queue.upsertJobScheduler(
      'customer-sync',
      { every: intervalMs },
      {
        name: 'sync',
        opts: {
          attempts: 3,
          backoff: { type: 'exponential', delay: 10_000 },
          removeOnComplete: 100,
          removeOnFail: 100,
        },
      },
    ),
    queue.setGlobalConcurrency(1),
  ]).then(
    () => log.info({ everyMs: intervalMs, families }, 'sync scheduled'),
    (err: Error) => log.error({ err: { message: err.message } }, 'could not schedule the sync'),
  );
  const connection = createRedis(options.redis, 'consumer');
  reportRedisErrors(connection, log, `${SYNC_QUEUE} worker`);
  const worker = new Worker(
    name,
    async () => {
      const results = await runSync({
        families,
        deps: options.deps,
        redis: options.storeRedis,
        prefix: options.storePrefix,
        log,
        onApplied: (family) => metrics.entityApplied(family, 'sync'),
        onRefused: (family) => metrics.syncRefused(family),
        onFamilyDone: (family) => metrics.syncSucceeded(family),
      });
      const refused = Object.values(results).reduce((n, r) => n + (r && 'refused' in r ? r.refused : 0), 0);
      if (refused > 0) {
        log.error(
          results,
          'sync done, but a forward target refused some entities (logged above): once it takes them, pnpm sync --family <family> --since <their updated_at>',
        );
      } else {
        log.info(results, 'sync done');
      }
      return results;
    },
    { connection, prefix: options.queuePrefix, concurrency: 1, lockDuration: options.lockDurationMs },
  );
  worker.on('failed', (_job, err) => log.warn({ err: { message: err.message } }, 'sync failed'));
  worker.on('error', (err) => log.warn({ err: { message: err.message } }, 'sync worker error'));
  return {
    async close(timeoutMs: number): Promise<void> {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        worker.close(),
        new Promise((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      await queue.close().catch(() => undefined);
      connection.disconnect();
    },
  };
}
