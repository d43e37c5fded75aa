import { queueNameOf } from '@flexprice/contracts';
import { createRedis, ping } from '@flexprice/runtime';
import { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { createCustomerStore } from './customer-store.js';
import { createForwarder } from './forwarder.js';
import { createHandlers, handledFamilies } from './handlers/registry.js';
import { createWorkerMetrics } from './metrics.js';
import { createProcessor } from './processor.js';
import { startWorkerPool } from './workers.js';

/**
 * The worker's parts, wired and running: the store on its own patient connection, the forwarder,
 * the handlers, one BullMQ worker per handled family. `main.ts` adds health and shutdown; tests
 * use the same wiring against their own Redis.
 */
export function startWorker(config: Config, logger: Logger) {
  const storeRedis = createRedis(config.redis, 'consumer');
  storeRedis.on('error', (err: Error) => logger.warn({ err: { message: err.message } }, 'store connection error'));
  const store = createCustomerStore(storeRedis, config.store);
  const metrics = createWorkerMetrics();
  const forward = config.forward ? createForwarder({ ...config.forward, observe: metrics.forwarded }) : undefined;
  const handlers = createHandlers({
    store,
    forward,
    forwardTimeoutMs: config.forward?.timeoutMs,
    onForwardWait: () => metrics.forwardWaited(queueNameOf('customer')),
  });
  const families = handledFamilies(handlers);
  // Queue handles for the gauges only (counts read on scrape), on the store's connection.
  const queues = families.map((family) => {
    const queue = new Queue(queueNameOf(family), { connection: storeRedis, prefix: config.queue.prefix });
    queue.on('error', () => {});
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

  return {
    store,
    processor,
    pool,
    metrics,
    /** Redis answers and every worker runs. */
    isReady: async () => pool.isRunning() && (await ping(storeRedis)),
    /** Drains the workers (up to `timeoutMs`) and closes the store. True when nothing was cut off. */
    async close(timeoutMs: number): Promise<boolean> {
      const drained = await pool.close(timeoutMs);
      await Promise.all(queues.map((queue) => queue.close().catch(() => undefined)));
      if (drained) await storeRedis.quit().catch(() => storeRedis.disconnect());
      else storeRedis.disconnect();
      return drained;
    },
  };
}
