import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import closeWithGrace from 'close-with-grace';
import { createApp } from './app.js';
import { createAuthenticator } from './auth/authenticate.js';
import { ConfigError, loadConfig } from './config.js';
import { createEnqueuer } from './enqueuer.js';
import { createLogger } from './logger.js';
import { createProducerConnection, ping } from './redis.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  if (config.auth.disabled) {
    logger.warn(
      'FLEXPRICE_WEBHOOK_AUTH=none: webhooks are NOT authenticated. Anyone who can reach this port can inject events. Never run this in production.',
    );
  }

  const redis = createProducerConnection(config.redis.url);
  redis.on('error', (err) => logger.warn({ err: { message: err.message } }, 'redis connection error'));
  const enqueuer = createEnqueuer({
    connection: redis,
    ...config.queue,
    timeoutMs: config.queue.enqueueTimeoutMs,
    logger,
  });
  logger.info({ redis: redactUrl(config.redis.url) }, 'waiting for redis');
  await enqueuer.open(config.queue.enqueueEvents);

  let shuttingDown = false;
  const routed = new Set(config.queue.enqueueEvents);
  const app = createApp({
    logger,
    authenticate: createAuthenticator(config.auth),
    enqueuer,
    isRouted: (type) => routed.has(type),
    maxBodyBytes: config.http.maxBodyBytes,
    isReady: () => ping(redis),
    isShuttingDown: () => shuttingDown,
  });

  const server = app.listen(config.http.port, config.http.host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  logger.info(
    {
      port,
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
    shuttingDown = true;
    // Stop accepting; requests already read are answered (each one's job is in Redis or it got 503).
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await closed;
    await enqueuer.close();
    await redis.quit().catch(() => redis.disconnect());
    logger.info('receiver stopped');
  });
}

/** Logs a Redis URL without its password. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'redis://(unparseable)';
  }
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
  } else {
    process.stderr.write(
      `receiver failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
  }
  process.exit(1);
});
