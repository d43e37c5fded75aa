import {
  describeConfig,
  type EventType,
  FAMILIES,
  familyOf,
  familyQueueNames,
  layoutsKey,
  queueNameOf,
  SYNC_QUEUE,
  syncQueueName,
} from '@flexprice/contracts';
import {
  createEvictionWatch,
  createRedis,
  createReplicaWait,
  instanceId,
  packageVersion,
  ping,
  readinessDeadlineMs,
  recordedLayouts,
  replicaProblem,
  reportRedisErrors,
} from '@flexprice/runtime';
import { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { createCustomerKeeper } from './entities/keepers.js';
import { createApiPipeline } from './entities/pipeline.js';
import { defaultSyncFamilies } from './entities/reconciler.js';
import { consumedFamilies, createHandlers } from './handlers/registry.js';
import { createWorkerMetrics, type WorkerMetrics } from './metrics.js';
import { createCustomerStore } from './ordering/customer-store.js';
import { createEntityMarks } from './ordering/entity-marks.js';
import { createNotFoundConfirmation } from './ordering/not-found.js';
import { createFlexpriceApi } from './outbound/flexprice-api.js';
import { createForwardTargets } from './outbound/forward-targets.js';
import { watchConfigAgreement } from './queue/config-agreement.js';
import { startWorkerPool } from './queue/pool.js';
import { createProcessor } from './queue/processor.js';
import { startSyncScheduler } from './queue/sync-scheduler.js';

/** The API client, wired to the worker's metrics and readiness. */
export function createApiClient(config: Config, metrics: WorkerMetrics, logger?: Logger) {
  if (!config.api) return undefined;
  let refused = false;
  const lenient = new Set<string>();
  const api = createFlexpriceApi({
    ...config.api,
    observe: (operation, result) => metrics.apiCalled(operation, result),
    // Once per operation: an SDK whose models lag the API would otherwise log every read.
    onLenientRead: (operation, reason) => {
      if (lenient.has(operation)) return;
      lenient.add(operation);
      logger?.warn(
        { operation, err: { message: reason } },
        "@flexprice/sdk refused an answer Flexprice's API sent with a 2xx: its JSON is used as sent (update the SDK)",
      );
    },
    onAuthorization: (isRefused) => {
      refused = isRefused;
      metrics.apiAuthorization(isRefused);
    },
  });
  return Object.assign(api, { isRefused: () => refused });
}

/**
 * The worker's parts, wired and running: the store on its own patient connection, a forwarder per
 * route, Flexprice's API when a key is set, the handlers, one BullMQ worker per consumed family, the
 * scheduled reconciler when SYNC_INTERVAL is set, and its configuration recorded in Redis and
 * compared with the live receivers'. `main.ts` adds health and shutdown;
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
  const targets = createForwardTargets(config.routes, config.forward, metrics.forwarded);
  const api = createApiClient(config, metrics, logger);
  const ordering = {
    onForwardWait: (eventType: string) => metrics.forwardWaited(queueNameOf(familyOf(eventType as EventType))),
    // On the store's connection: a WAIT covers the writes sent before it on its own connection.
    replicas: config.redisWait.replicas > 0 ? createReplicaWait(storeRedis, config.redisWait) : undefined,
  };
  const customers = createCustomerKeeper({ store, forward: targets.customer, ...ordering });
  const marks = createEntityMarks(storeRedis, {
    prefix: config.store.prefix,
    deliveryPinTtlSeconds: config.store.deliveryPinTtlSeconds,
    markTtlSeconds: config.entityMarkTtlSeconds,
    layout: config.store.layout,
  });
  const pipeline =
    api &&
    config.api &&
    createApiPipeline({
      api,
      notFound: createNotFoundConfirmation(storeRedis, {
        prefix: config.store.prefix,
        confirmMs: config.api.notFoundConfirmMs,
      }),
      onApplied: (family, source) => metrics.entityApplied(family, source),
    });
  const handlers = createHandlers({
    customers,
    marks,
    routes: targets.routes,
    api: pipeline,
    onApplied: (family, source) => metrics.entityApplied(family, source),
    ...ordering,
  });
  const families = consumedFamilies(
    config.enqueueEvents,
    config.routes.flatMap((route) => route.claims),
  );
  // Queue handles for the gauges only (counts read on scrape), on the store's connection: every
  // queue, consumed or not, so that jobs nobody drains (queued under an older ENQUEUE_EVENTS, or
  // another QUEUE_SHARDS) show in the oldest-waiting age and its alert. A family's shards are
  // summed under the family's queue name; the reconciler's queue is its own.
  const queues: Queue[] = [];
  const shardsOf = new Map<string, Queue[]>();
  const gauge = (label: string, name: string) => {
    // Layouts share queues (shard 0 of 2 is shard 0 of 3, `shardTag`): each is counted once.
    if (queues.some((queue) => queue.name === name)) return;
    const queue = new Queue(name, { connection: storeRedis, prefix: config.queue.prefix });
    reportRedisErrors(queue, logger, queue.name);
    queues.push(queue);
    const known = shardsOf.get(label);
    if (known) {
      known.push(queue);
      return;
    }
    const shards = [queue];
    shardsOf.set(label, shards);
    metrics.watch({
      queue: label,
      counts: async () => {
        const all = await Promise.all(
          shards.map((q) => q.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed')),
        );
        const sum: Record<string, number> = {};
        for (const counts of all) for (const [state, n] of Object.entries(counts)) sum[state] = (sum[state] ?? 0) + n;
        return sum;
      },
      oldestWaitingAt: async () => {
        const oldest = await Promise.all(
          shards.map(async (q) => (await q.getJobs(['waiting'], 0, 0, true))[0]?.timestamp),
        );
        const times = oldest.filter((t): t is number => t !== undefined);
        return times.length === 0 ? undefined : Math.min(...times);
      },
    });
  };
  // (On a sharded Redis Cluster its name carries a hash tag of its own: `syncQueueName`.)
  const syncQueue = syncQueueName(config.queue.shards, config.redis.mode === 'cluster');
  gauge(SYNC_QUEUE, syncQueue);
  const processor = createProcessor(handlers, logger);
  const pool = startWorkerPool({
    redis: config.redis,
    prefix: config.queue.prefix,
    queues: [],
    processor,
    ...config.worker,
    logger,
    metrics,
  });
  // The queues of every shard count: the configured one, the one-queue layout of versions before
  // shards (on one server: on a sharded cluster its keys could not be used), and any other a
  // receiver recorded (`layoutsKey`), looked for every minute: a count changed leaves no job behind.
  const layouts = new Set<number>();
  const sharded = config.redis.mode === 'cluster' && config.queue.shards > 1;
  const addLayout = (shards: number) => {
    // On a sharded cluster the prefix carries no hash tag: one queue per family could not run there.
    if (layouts.has(shards) || (sharded && shards === 1)) return;
    layouts.add(shards);
    for (const family of FAMILIES) {
      for (const name of familyQueueNames(family, shards)) {
        gauge(queueNameOf(family), name);
        if (families.includes(family)) pool.consume({ family, name });
      }
    }
  };
  addLayout(config.queue.shards);
  addLayout(1);
  const lookForLayouts = () =>
    recordedLayouts(storeRedis, layoutsKey(config.queue.prefix)).then(
      (recorded) => {
        for (const shards of recorded) addLayout(shards);
      },
      (err: Error) => logger.warn({ err: { message: err.message } }, 'could not read the recorded shard counts'),
    );
  void lookForLayouts();
  const layoutWatch = setInterval(() => void lookForLayouts(), 60_000);
  layoutWatch.unref();
  // What this worker processes, recorded for (and compared with) the live receivers'.
  const agreement = watchConfigAgreement({
    redis: storeRedis,
    prefix: config.queue.prefix,
    self: describeConfig({
      role: 'worker',
      instance: instanceId(),
      version: packageVersion(import.meta.url),
      queue: { prefix: config.queue.prefix, shards: config.queue.shards },
      enqueues: config.enqueueEvents,
      routes: config.routes,
      handles: Object.keys(handlers),
      consumes: families,
    }),
    drains: () => [...layouts],
    // A live receiver's count is taken up at once, without waiting for the next look at the recorded ones.
    onReceiverShards: (counts) => {
      for (const shards of counts) addLayout(shards);
    },
    logger,
  });
  // Not awaited: on the patient store connection, a Redis that is away would hold the start.
  void agreement.start();
  metrics.watchConfigAgreement(agreement);
  const scheduler =
    api && config.sync
      ? startSyncScheduler({
          redis: config.redis,
          storeRedis,
          queuePrefix: config.queue.prefix,
          queueName: syncQueue,
          storePrefix: config.store.prefix,
          intervalMs: config.sync.intervalMs,
          lockDurationMs: config.worker.lockDurationMs,
          families: defaultSyncFamilies(config.enqueueEvents, targets.routes),
          deps: { api, customers, marks, routes: targets.routes, ...ordering },
          logger,
          metrics,
        })
      : undefined;

  return {
    store,
    processor,
    pool,
    metrics,
    api,
    agreement,
    /** Redis answers, every worker runs, and Flexprice's API (when used) does not refuse the key. */
    // A PING queues behind a WAIT on the store's connection: its deadline allows for one.
    isReady: async () =>
      pool.isRunning() && !api?.isRefused() && (await ping(storeRedis, readinessDeadlineMs(config.redisWait))),
    /**
     * Why the worker is not ready, for /readyz: a refused API key, too few Redis replicas, an
     * evicting Redis, live receivers queueing what it cannot process (read from the last comparison).
     */
    problems: async () => {
      const redisProblems = await Promise.all([replicaProblem(storeRedis, config.redisWait), eviction.problem()]);
      return [
        ...(api?.isRefused() ? ["flexprice_api_unauthorized: Flexprice's API refuses FLEXPRICE_API_KEY"] : []),
        ...redisProblems.filter((problem) => problem !== undefined),
        ...agreement.problems(),
      ];
    },
    /** Drains the workers (up to `timeoutMs`) and closes the store. True when nothing was cut off. */
    async close(timeoutMs: number): Promise<boolean> {
      clearInterval(layoutWatch);
      const [drained] = await Promise.all([pool.close(timeoutMs), scheduler?.close(timeoutMs), agreement.close()]);
      await Promise.all(queues.map((queue) => queue.close().catch(() => undefined)));
      if (drained) await storeRedis.quit().catch(() => storeRedis.disconnect());
      else storeRedis.disconnect();
      return drained;
    },
  };
}
