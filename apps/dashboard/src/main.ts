import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createLogger, describeTarget, refuseEvictingRedis, runMain } from '@flexprice/runtime';
import closeWithGrace from 'close-with-grace';
import { loadConfig } from './config.js';
import { BASE_PATH, createDashboard } from './dashboard.js';

runMain('dashboard', async () => {
  const config = loadConfig();
  const logger = createLogger('dashboard', { level: config.logLevel });
  const { credentials } = config;
  if (!credentials) {
    logger.warn(
      'dashboard disabled: set ADMIN_USERNAME and ADMIN_PASSWORD to serve it (it never runs unauthenticated)',
    );
    return;
  }
  await refuseEvictingRedis(config.redis, logger);
  const dashboard = createDashboard({ ...config, credentials }, logger);
  const server = dashboard.createServer().listen(config.http.port, config.http.host);
  await once(server, 'listening');
  logger.info(
    {
      host: (server.address() as AddressInfo).address,
      port: (server.address() as AddressInfo).port,
      path: BASE_PATH,
      readOnly: config.readOnly,
      redis: describeTarget(config.redis),
    },
    'dashboard listening',
  );
  closeWithGrace({ delay: 5_000, logger }, async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections(); // browsers keep connections open; nothing here is worth waiting for
    await closed;
    await dashboard.close();
  });
});
