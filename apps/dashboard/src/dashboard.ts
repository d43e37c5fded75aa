import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { FAMILIES, queueNameOf } from '@flexprice/contracts';
import {
  createEvictionWatch,
  createRedis,
  handleOps,
  ping,
  type RedisClient,
  reportRedisErrors,
} from '@flexprice/runtime';
import { Queue } from 'bullmq';
import express from 'express';
import basicAuth from 'express-basic-auth';
import type { Logger } from 'pino';
import type { Config } from './config.js';

export const BASE_PATH = '/admin/queues';

/**
 * bull-board over every flexprice.* queue, behind basic auth (compared in constant time by
 * express-basic-auth). Only `/healthz` and `/readyz` answer without credentials.
 */
export function createDashboard(
  config: Config & { credentials: { username: string; password: string } },
  logger: Pick<Logger, 'warn' | 'error' | 'info'>,
): {
  app: express.Express;
  close(): Promise<void>;
} {
  const connection: RedisClient = createRedis(config.redis, 'producer');
  reportRedisErrors(connection, logger, 'queues');
  const queues = FAMILIES.map((family) => {
    const queue = new Queue(queueNameOf(family), { connection, prefix: config.queue.prefix });
    reportRedisErrors(queue, logger, queue.name);
    return queue;
  });

  const board = new ExpressAdapter();
  board.setBasePath(BASE_PATH);
  createBullBoard({
    queues: queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode: config.readOnly })),
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'Flexprice webhooks' } },
  });

  const app = express();
  app.disable('x-powered-by');
  // The runtime's ops endpoints, before authentication: /healthz, and /readyz (Redis answers and
  // does not evict keys).
  const eviction = createEvictionWatch(connection, logger);
  const problems = async () => [await eviction.problem()].filter((problem) => problem !== undefined);
  for (const endpoint of ['/healthz', '/readyz'] as const) {
    app.get(endpoint, (req, res, next) => {
      if (!handleOps({ isReady: () => ping(connection), problems }, req, res, endpoint)) next();
    });
  }
  app.use(
    basicAuth({
      users: { [config.credentials.username]: config.credentials.password },
      challenge: true,
      realm: 'flexprice-dashboard',
    }),
  );
  app.use(BASE_PATH, board.getRouter());
  app.get('/', (_req, res) => res.redirect(BASE_PATH));

  return {
    app,
    async close(): Promise<void> {
      await Promise.all(queues.map((queue) => queue.close()));
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}
