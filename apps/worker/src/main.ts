import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describeTarget, runMain } from '@flexprice/runtime';
import closeWithGrace from 'close-with-grace';
import { loadConfig } from './config.js';
import { createHealthServer } from './health.js';
import { createLogger } from './logger.js';
import { startWorker } from './worker.js';

runMain('worker', async () => {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  logger.info({ redis: describeTarget(config.redis), prefix: config.queue.prefix }, 'connecting to redis');
  if (!config.forward) logger.info('CUSTOMER_FORWARD_URL is not set: customer events update the store only');
  const worker = startWorker(config, logger);

  const health = createHealthServer({ isReady: worker.isReady, metrics: worker.metrics.registry });
  health.listen(config.health.port, config.health.host);
  await once(health, 'listening');
  logger.info({ port: (health.address() as AddressInfo).port }, 'worker health listening');

  closeWithGrace({ delay: config.shutdownTimeoutMs + 5_000, logger }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'fatal error, shutting down');
    else logger.info({ signal }, 'shutting down: finishing active jobs');
    health.close();
    if (!(await worker.close(config.shutdownTimeoutMs))) {
      throw new Error(
        `active jobs did not finish within SHUTDOWN_TIMEOUT_MS (${config.shutdownTimeoutMs} ms); they are retried once their locks expire`,
      );
    }
    logger.info('worker stopped');
  });
});
