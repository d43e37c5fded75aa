import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import closeWithGrace from 'close-with-grace';
import { ConfigError, loadConfig } from './config.js';
import { createCustomerStore } from './customer-store.js';
import { createForwarder } from './forwarder.js';
import { createHandlers, handledFamilies } from './handlers/registry.js';
import { createHealthServer } from './health.js';
import { createLogger } from './logger.js';
import { createProcessor } from './processor.js';
import { createStoreConnection, ping } from './redis.js';
import { startWorkerPool } from './workers.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);

  const storeRedis = createStoreConnection(config.redis.url);
  storeRedis.on('error', (err) => logger.warn({ err: { message: err.message } }, 'store connection error'));
  const store = createCustomerStore(storeRedis, config.store);
  const forward = config.forward ? createForwarder(config.forward) : undefined;
  if (!forward) logger.info('CUSTOMER_FORWARD_URL is not set: customer events update the store only');

  const handlers = createHandlers({ store, forward });
  const pool = startWorkerPool({
    redisUrl: config.redis.url,
    prefix: config.queue.prefix,
    families: handledFamilies(handlers),
    processor: createProcessor(handlers, logger),
    ...config.worker,
    logger,
  });

  const health = createHealthServer({ isReady: async () => pool.isRunning() && (await ping(storeRedis)) });
  health.listen(config.health.port, config.health.host);
  await once(health, 'listening');
  logger.info({ port: (health.address() as AddressInfo).port }, 'worker health listening');

  closeWithGrace({ delay: config.shutdownTimeoutMs + 5_000, logger }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'fatal error, shutting down');
    else logger.info({ signal }, 'shutting down: finishing active jobs');
    health.close();
    const drained = await pool.close(config.shutdownTimeoutMs);
    if (drained) await storeRedis.quit().catch(() => storeRedis.disconnect());
    else storeRedis.disconnect();
    if (!drained) {
      throw new Error(
        `active jobs did not finish within SHUTDOWN_TIMEOUT_MS (${config.shutdownTimeoutMs} ms); they are retried once their locks expire`,
      );
    }
    logger.info('worker stopped');
  });
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
  } else {
    process.stderr.write(
      `worker failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
  }
  process.exit(1);
});
