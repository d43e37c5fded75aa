import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { layoutsKey } from '@flexprice/contracts';
import {
  ConfigError,
  createOpsServer,
  describeTarget,
  redactUrl,
  refuseEvictingRedis,
  refuseOtherClusterLayout,
  runMain,
} from '@flexprice/runtime';
import closeWithGrace from 'close-with-grace';
import type { Logger } from 'pino';
import { type Config, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { createFlexpriceApi, FlexpriceApiError } from './outbound/flexprice-api.js';
import { startWorker } from './service.js';

/**
 * One cheap call before any job runs: a refused key stops the start (every customer job would fail);
 * an API that does not answer now is only a warning (jobs retry until it does).
 */
async function checkApiKey(api: NonNullable<Config['api']>, logger: Logger): Promise<void> {
  try {
    await createFlexpriceApi(api).checkKey();
    logger.info(
      { url: redactUrl(api.url) },
      "Flexprice's API accepts FLEXPRICE_API_KEY: customer states are read from it",
    );
  } catch (error) {
    if (error instanceof FlexpriceApiError && error.failure === 'unauthorized') {
      throw new ConfigError([`FLEXPRICE_API_KEY: ${error.message} (${redactUrl(api.url)})`]);
    }
    const message = error instanceof Error ? error.message : String(error);
    logger.warn(
      { url: redactUrl(api.url), err: { message } },
      "Flexprice's API did not answer the key check; jobs retry until it does",
    );
  }
}

runMain('worker', async () => {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  logger.info({ redis: describeTarget(config.redis), prefix: config.queue.prefix }, 'connecting to redis');
  await refuseEvictingRedis(config.redis, logger);
  await refuseOtherClusterLayout(config.redis, {
    prefix: config.queue.prefix,
    shards: config.queue.shards,
    keyOf: layoutsKey,
  });
  logger.info(
    {
      enqueueEvents: config.enqueueEvents.length,
      routes: config.routes.map(({ pattern, url, claims }) => ({
        pattern,
        url: redactUrl(url),
        events: claims.length,
      })),
    },
    config.routes.length === 0 ? 'no forward routes: customer events update the store only' : 'forward routes',
  );
  if (config.api) {
    await checkApiKey(config.api, logger);
  } else {
    logger.info('FLEXPRICE_API_KEY is not set: webhook-only (the state is what the webhook carries)');
  }
  const worker = startWorker(config, logger);

  const health = createOpsServer({
    isReady: worker.isReady,
    problems: worker.problems,
    metrics: worker.metrics.registry,
  });
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
