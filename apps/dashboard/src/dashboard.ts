import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { FAMILIES, queueNameOf } from '@flexprice/contracts';
import { createRedis, type RedisClient } from '@flexprice/runtime';
import { Queue } from 'bullmq';
import express from 'express';
import basicAuth from 'express-basic-auth';
import type { Config } from './config.js';

export const BASE_PATH = '/admin/queues';

/**
 * bull-board over every flexprice.* queue, behind basic auth (compared in constant time by
 * express-basic-auth). Only `/healthz` answers without credentials.
 */
export function createDashboard(config: Config & { credentials: { username: string; password: string } }): {
  app: express.Express;
  close(): Promise<void>;
} {
  const connection: RedisClient = createRedis(config.redis, 'producer');
  connection.on('error', () => {});
  const queues = FAMILIES.map((family) => {
    const queue = new Queue(queueNameOf(family), { connection, prefix: config.queue.prefix });
    queue.on('error', () => {});
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
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
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
