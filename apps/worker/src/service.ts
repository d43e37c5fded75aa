import { type EventType, FAMILIES, familyOf, queueNameOf } from '@flexprice/contracts';
import {
  createEvictionWatch,
  createRedis,
  createReplicaWait,
  ping,
  type RedisClient,
  readinessDeadlineMs,
  replicaProblem,
  reportRedisErrors,
} from '@flexprice/runtime';
import { Queue, Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { createCustomerFetcher } from './entities/fetcher.js';
import { syncCustomers } from './entities/sync.js';
import type { createCustomerApplier } from './handlers/customer.js';
import { consumedFamilies, createHandlers } from './handlers/registry.js';
import { createWorkerMetrics, type WorkerMetrics } from './metrics.js';
import { createCustomerStore } from './ordering/customer-store.js';
import { createEntityMarks } from './ordering/entity-marks.js';
import { createNotFoundConfirmation } from './ordering/not-found.js';
import { createFlexpriceApi, type FlexpriceApi } from './outbound/flexprice-api.js';
import { createForwardTargets } from './outbound/forward-targets.js';
import { startWorkerPool } from './queue/pool.js';
import { createProcessor } from './queue/processor.js';

/**
 * WARNING: a queue name is persisted state (its scheduler and jobs live under it). The scheduled
 * reconciler's queue: one job per CUSTOMER_SYNC_INTERVAL, run by one worker at a time.
 */
export const SYNC_QUEUE = 'flexprice.sync';

/** The API client, wired to the worker's metrics and readiness. */
export function createApiClient(config: Config, metrics: WorkerMetrics) {
  if (!config.api) return undefined;
  let refused = false;
  const api = createFlexpriceApi({
    ...config.api,
    observe: (operation, result) => metrics.apiCalled(operation, result),
    onAuthorization: (isRefused) => {
      refused = isRefused;
      metrics.apiAuthorization(isRefused);
    },
  });
  return Object.assign(api, { isRefused: () => refused });
}

/**
 * The worker's parts, wired and running: the store on its own patient connection, a forwarder per
 * route, Flexprice's API when a key is set, the handlers, one BullMQ worker per consumed family, and the
 * scheduled reconciler when CUSTOMER_SYNC_INTERVAL is set. `main.ts` adds health and shutdown;
 * tests use the same wiring against their own Redis.
 */
export function startWorker(config: Config, logger: Logger) {
  const storeRedis = createRedis(config.redis, 'consumer');
  reportRedisErrors(storeRedis, logger, 'store');
  const store = createCustomerStore(storeRedis, config.store);
  const metrics = createWorkerMetrics();
  // Redis may not evict (main.ts refused to start on it): a policy changed since makes /readyz 503.
  const eviction = createEvictionWatch(storeRedis, logger, readinessDeadlineMs(config.redisWait));
  metrics.watchEviction(eviction);
  const targets = createForwardTargets(config.routes, metrics.forwarded);
  const api = createApiClient(config, metrics);
  const jobsInFlight = { count: 0 };
  const deps = {
    store,
    forward: targets.customer,
    onForwardWait: (eventType: string) => metrics.forwardWaited(queueNameOf(familyOf(eventType as EventType))),
    onApplied: (source: 'webhook' | 'api' | 'sync') => metrics.customerApplied(source),
    fetcher: api && createCustomerFetcher(api, { activeJobs: () => jobsInFlight.count }),
    notFound:
      config.api &&
      createNotFoundConfirmation(storeRedis, { prefix: config.store.prefix, confirmMs: config.api.notFoundConfirmMs }),
    servesEnvironment: api?.servesEnvironment,
    jobsInFlight,
    // On the store's connection: a WAIT covers the writes sent before it on its own connection.
    replicas: config.redisWait.replicas > 0 ? createReplicaWait(storeRedis, config.redisWait) : undefined,
  };
  const marks = createEntityMarks(storeRedis, {
    prefix: config.store.prefix,
    processedTtlSeconds: config.store.processedTtlSeconds,
    markTtlSeconds: config.entityMarkTtlSeconds,
  });
  const handlers = createHandlers({ ...deps, marks, routes: targets.routes });
  const families = consumedFamilies(
    config.enqueueEvents,
    config.routes.flatMap((route) => route.claims),
  );
  // Queue handles for the gauges only (counts read on scrape), on the store's connection: every
  // family, consumed or not, so that jobs nobody drains (queued under an older ENQUEUE_EVENTS)
  // show in the oldest-waiting age and its alert.
  const queues = FAMILIES.map((family) => {
    const queue = new Queue(queueNameOf(family), { connection: storeRedis, prefix: config.queue.prefix });
    reportRedisErrors(queue, logger, queue.name);
    metrics.watch({
      queue: queue.name,
      counts: () => queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed'),
      oldestWaitingAt: async () => (await queue.getJobs(['waiting'], 0, 0, true))[0]?.timestamp,
    });
    return queue;
  });
  const processor = createProcessor(handlers, logger);
  const pool = startWorkerPool({
    redis: config.redis,
    prefix: config.queue.prefix,
    families,
    processor,
    ...config.worker,
    logger,
    metrics,
  });
  const scheduler =
    api && config.sync ? startSyncScheduler({ config, api, deps, storeRedis, logger, metrics }) : undefined;

  return {
    store,
    processor,
    pool,
    metrics,
    api,
    /** Redis answers, every worker runs, and Flexprice's API (when used) does not refuse the key. */
    // A PING queues behind a WAIT on the store's connection: its deadline allows for one.
    isReady: async () =>
      pool.isRunning() && !api?.isRefused() && (await ping(storeRedis, readinessDeadlineMs(config.redisWait))),
    /** Why the worker is not ready, for /readyz: a refused API key, too few Redis replicas, an evicting Redis. */
    problems: async () => {
      const redisProblems = await Promise.all([replicaProblem(storeRedis, config.redisWait), eviction.problem()]);
      return [
        ...(api?.isRefused() ? ["flexprice_api_unauthorized: Flexprice's API refuses FLEXPRICE_API_KEY"] : []),
        ...redisProblems.filter((problem) => problem !== undefined),
      ];
    },
    /** Drains the workers (up to `timeoutMs`) and closes the store. True when nothing was cut off. */
    async close(timeoutMs: number): Promise<boolean> {
      const [drained] = await Promise.all([pool.close(timeoutMs), scheduler?.close(timeoutMs)]);
      await Promise.all(queues.map((queue) => queue.close().catch(() => undefined)));
      if (drained) await storeRedis.quit().catch(() => storeRedis.disconnect());
      else storeRedis.disconnect();
      return drained;
    },
  };
}

interface SchedulerDeps {
  config: Config;
  api: FlexpriceApi;
  deps: Parameters<typeof createCustomerApplier>[0];
  storeRedis: RedisClient;
  logger: Logger;
  metrics: WorkerMetrics;
}

/**
 * CUSTOMER_SYNC_INTERVAL: the reconciler as a BullMQ job scheduler. Every replica upserts the same
 * scheduler (one job per interval, whatever the number of replicas) and runs a worker for it; the
 * queue's global concurrency of 1 makes a run that outlasts the interval the only one. A run cut
 * off by a crash is retried once its lock lapses, and resumes from the watermarks it saved.
 */
function startSyncScheduler({ config, api, deps, storeRedis, logger, metrics }: SchedulerDeps) {
  const intervalMs = config.sync?.intervalMs ?? 0;
  const log = logger.child({ queue: SYNC_QUEUE });
  const queue = new Queue(SYNC_QUEUE, { connection: storeRedis, prefix: config.queue.prefix });
  reportRedisErrors(queue, log, SYNC_QUEUE);
  Promise.all([
    queue.upsertJobScheduler(
      'customer-sync',
      { every: intervalMs },
      {
        name: 'customer.sync',
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
    () => log.info({ everyMs: intervalMs }, 'customer sync scheduled'),
    (err: Error) => log.error({ err: { message: err.message } }, 'could not schedule the customer sync'),
  );
  const connection = createRedis(config.redis, 'consumer');
  reportRedisErrors(connection, log, `${SYNC_QUEUE} worker`);
  const worker = new Worker(
    SYNC_QUEUE,
    async () => {
      const summary = await syncCustomers({
        api,
        applier: { ...deps, onApplied: () => metrics.customerApplied('sync') },
        redis: storeRedis,
        prefix: config.store.prefix,
        log,
        onRefused: () => metrics.syncRefused(),
      });
      metrics.syncSucceeded();
      if (summary.refused > 0) {
        log.error(
          summary,
          'customer sync done, but the forward target refused some customers (logged above): once it takes them, pnpm customers sync --since <their updated_at>',
        );
      } else {
        log.info(summary, 'customer sync done');
      }
      return summary;
    },
    { connection, prefix: config.queue.prefix, concurrency: 1, lockDuration: config.worker.lockDurationMs },
  );
  worker.on('failed', (_job, err) => log.warn({ err: { message: err.message } }, 'customer sync failed'));
  worker.on('error', (err) => log.warn({ err: { message: err.message } }, 'customer sync worker error'));
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
