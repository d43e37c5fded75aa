import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { layoutsKey } from '@flexprice/contracts';
import { describeTarget, refuseEvictingRedis, refuseOtherClusterLayout, runMain } from '@flexprice/runtime';
import closeWithGrace from 'close-with-grace';
import { loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { createReceiver } from './receiver.js';

runMain('receiver', async () => {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  if (config.auth.disabled) {
    logger.warn(
      'FLEXPRICE_WEBHOOK_AUTH=none: webhooks are NOT authenticated. Anyone who can reach this port can inject events. Never run this in production.',
    );
  }

  logger.info({ redis: describeTarget(config.redis), prefix: config.queue.prefix }, 'waiting for redis');
  await refuseEvictingRedis(config.redis, logger);
  await refuseOtherClusterLayout(config.redis, {
    prefix: config.queue.prefix,
    shards: config.queue.shards,
    keyOf: layoutsKey,
  });
  const receiver = await createReceiver(config, logger);
  const server = receiver.createServer().listen(config.http.port, config.http.host);
  const metricsServer = receiver.createMetricsServer().listen(config.metrics.port, config.metrics.host);
  await Promise.all([once(server, 'listening'), once(metricsServer, 'listening')]);
  logger.info(
    {
      port: (server.address() as AddressInfo).port,
      metricsPort: (metricsServer.address() as AddressInfo).port,
      auth: {
        signatureSecrets: config.auth.secrets.length,
        staticHeader: config.auth.staticHeader?.name ?? null,
        disabled: config.auth.disabled,
      },
      enqueueEvents: config.queue.enqueueEvents,
    },
    'receiver listening',
  );

  closeWithGrace({ delay: config.shutdownTimeoutMs, logger }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'fatal error, shutting down');
    else logger.info({ signal }, 'shutting down: finishing in-flight requests');
    receiver.beginShutdown();
    // Stop accepting; requests already read are answered (each one's job is in Redis or it got 503).
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    // Nothing there to finish (the process exits once the webhooks are answered).
    metricsServer.close();
    metricsServer.closeIdleConnections();
    await closed;
    await receiver.close();
    logger.info('receiver stopped');
  });
});
