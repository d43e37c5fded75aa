import { createServer, type Server } from 'node:http';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { allQueueNames, layoutsKey, syncQueueName } from '@flexprice/contracts';
import {
  createEvictionWatch,
  createRedis,
  handleOps,
  layoutsToSee,
  ping,
  type RedisClient,
  reportRedisErrors,
} from '@flexprice/runtime';
import { Queue } from 'bullmq';
import express from 'express';
import basicAuth from 'express-basic-auth';
import { type AugmentedRequest, rateLimit } from 'express-rate-limit';
import type { Logger } from 'pino';
import type { Config } from './config.js';

export const BASE_PATH = '/admin/queues';

/**
 * bull-board's API routes that put data on the queues: a job added or edited there skipped the
 * receiver's signature, schema and acceptance stamp (an arbitrary acceptance time could freeze an
 * entity's order for good). Refused whatever ADMIN_READ_ONLY says; retry, promote, clean and remove
 * stay. As bull-board names them (`method route`): its own router matches them, so no spelling of
 * the path gets past.
 */
export const REFUSED_ROUTES: ReadonlySet<string> = new Set([
  'post /api/queues/:queueName/add',
  'patch /api/queues/:queueName/:jobId/update-data',
]);

/**
 * The listener's deadlines: a client that sends its headers or its request slowly is cut off
 * (Node checks every 30 s by default, and waits 300 s for a request).
 */
const SERVER_LIMITS = {
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  keepAliveTimeout: 5_000,
  connectionsCheckingInterval: 1_000,
} as const;
const MAX_CONNECTIONS = 256;

/**
 * bull-board over every flexprice.* queue, behind basic auth (compared in constant time by
 * express-basic-auth). Only `/healthz` and `/readyz` answer without credentials.
 *
 * Failed logins are limited per client (express-rate-limit): past ADMIN_LOGIN_ATTEMPTS in
 * ADMIN_LOGIN_WINDOW every request offering credentials, right or wrong, gets 429 with Retry-After
 * until the window ends, so the limit cannot be used to tell a right guess. Requests in flight
 * count until they succeed (a browser sends at most six at once). Each failure is logged with the
 * client's address, never the name or password tried.
 */
export function createDashboard(
  config: Config & { credentials: { username: string; password: string } },
  logger: Pick<Logger, 'warn' | 'error' | 'info'>,
): {
  app: express.Express;
  /** The HTTP server for the app, with its deadlines and connection cap. */
  createServer(): Server;
  close(): Promise<void>;
} {
  const connection: RedisClient = createRedis(config.redis, 'producer');
  reportRedisErrors(connection, logger, 'queues');
  const queues = new Map<string, Queue>();
  const open = (name: string) => {
    const queue = new Queue(name, { connection, prefix: config.queue.prefix });
    reportRedisErrors(queue, logger, queue.name);
    queues.set(name, queue);
    return new BullMQAdapter(queue, { readOnlyMode: config.readOnly });
  };
  // The queues of the configured shard count (QUEUE_SHARDS) now; those of any other count a
  // receiver recorded (their jobs are drained by the workers, and may fail) as they are found.
  const sharded = config.redis.mode === 'cluster' && config.queue.shards > 1;
  const syncQueue = syncQueueName(config.queue.shards, config.redis.mode === 'cluster');
  const initial = allQueueNames(sharded ? [config.queue.shards] : [1, config.queue.shards], syncQueue);

  const board = new ExpressAdapter();
  board.setBasePath(BASE_PATH);
  const bullBoard = createBullBoard({
    queues: initial.map(open),
    serverAdapter: board,
    options: {
      uiConfig: { boardTitle: 'Flexprice webhooks' },
      handlerHooks: {
        before: ({ method, route }) =>
          REFUSED_ROUTES.has(`${method} ${route}`)
            ? { allow: false, status: 403, message: 'jobs are queued by the receiver only' }
            : undefined,
      },
    },
  });

  const lookForLayouts = () =>
    layoutsToSee(connection, layoutsKey(config.queue.prefix), {
      shards: config.queue.shards,
      cluster: config.redis.mode === 'cluster',
    }).then(
      (layouts) => {
        for (const name of allQueueNames(layouts, syncQueue)) if (!queues.has(name)) bullBoard.addQueue(open(name));
      },
      (err: Error) => logger.warn({ err: { message: err.message } }, 'could not read the recorded shard counts'),
    );
  void lookForLayouts();
  const layoutWatch = setInterval(() => void lookForLayouts(), 60_000);
  layoutWatch.unref();

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
    rateLimit({
      windowMs: config.logins.windowMs,
      limit: config.logins.attempts,
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      // Only what offers credentials is a guess; only a refused one counts...
      skip: (req) => req.headers.authorization === undefined,
      skipSuccessfulRequests: true,
      // A refused one (401), and a request refused for too many of them (429): else a 429 would not
      // count, and every other one would be the first past the limit again.
      requestWasSuccessful: (_req, res) => res.statusCode !== 401 && res.statusCode !== 429,
      handler: (req, res, _next, options) => {
        // Once per client and window, at the first refusal (the library's documented augmentation).
        const info = (req as AugmentedRequest).rateLimit;
        if (info !== undefined && info.used === info.limit + 1) {
          logger.warn({ ip: req.ip, failures: info.limit }, 'dashboard logins refused: too many failures');
        }
        res.status(options.statusCode).json({ error: 'too_many_failed_logins' });
      },
    }),
  );
  app.use(
    basicAuth({
      users: { [config.credentials.username]: config.credentials.password },
      challenge: true,
      realm: 'flexprice-dashboard',
      unauthorizedResponse: (req: express.Request) => {
        if (req.headers.authorization !== undefined) logger.warn({ ip: req.ip }, 'dashboard login failed');
        return '';
      },
    }),
  );
  app.use(BASE_PATH, board.getRouter());
  app.get('/', (_req, res) => res.redirect(BASE_PATH));

  return {
    app,
    createServer(): Server {
      const server = createServer(SERVER_LIMITS, app);
      server.maxConnections = MAX_CONNECTIONS;
      return server;
    },
    async close(): Promise<void> {
      clearInterval(layoutWatch);
      await Promise.all([...queues.values()].map((queue) => queue.close()));
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}
