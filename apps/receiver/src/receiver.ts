import { createServer, type Server } from 'node:http';
import { describeConfig } from '@flexprice/contracts';
import {
  createConfigRecorder,
  createEvictionWatch,
  createOpsServer,
  createRedis,
  createReplicaWait,
  instanceId,
  type OpsDeps,
  packageVersion,
  ping,
  readinessDeadlineMs,
  replicaProblem,
} from '@flexprice/runtime';
import type { Logger } from 'pino';
import { createApp } from './app.js';
import { createAuthenticator } from './auth/authenticate.js';
import type { Config } from './config.js';
import { createEnqueuer } from './enqueuer.js';
import { createReceiverMetrics } from './metrics.js';
import { createRefusalLog } from './refusal-log.js';

/**
 * The receiver's parts, wired: a fail-fast producer connection, the queues of the routed events
 * (opened before the first request: this waits for Redis), its configuration recorded in Redis for
 * the workers, the Express app. `main.ts` adds the
 * listener and the shutdown; tests use the same wiring against their own Redis.
 */
export async function createReceiver(config: Config, logger: Logger) {
  const redis = createRedis(config.redis, 'producer');
  redis.on('error', (err: Error) => logger.warn({ err: { message: err.message } }, 'redis connection error'));
  const enqueuer = createEnqueuer({
    connection: redis,
    prefix: config.queue.prefix,
    shards: config.queue.shards,
    dedupeTtlSeconds: config.queue.dedupeTtlSeconds,
    attempts: config.queue.attempts,
    backoffMs: config.queue.backoffMs,
    keepCompleted: config.queue.keepCompleted,
    timeoutMs: config.queue.enqueueTimeoutMs,
    replicas: config.redisWait.replicas > 0 ? createReplicaWait(redis, config.redisWait) : undefined,
    logger,
  });
  await enqueuer.open(config.queue.enqueueEvents);
  // What this receiver queues, recorded in Redis for the workers to compare with what they process.
  const instance = instanceId();
  const recorder = createConfigRecorder(redis, {
    prefix: config.queue.prefix,
    role: 'receiver',
    instance,
    record: describeConfig({
      role: 'receiver',
      instance,
      version: packageVersion(import.meta.url),
      queue: { prefix: config.queue.prefix, shards: config.queue.shards },
      enqueues: config.queue.enqueueEvents,
      routes: config.routes,
    }),
    logger,
  });
  // Before the first request: a worker starting next already sees this receiver.
  await recorder.start();

  let shuttingDown = false;
  const routed = new Set(config.queue.enqueueEvents);
  const metrics = createReceiverMetrics();
  const refusals = createRefusalLog(logger);
  // Redis may not evict (main.ts refused to start on it): a policy changed since makes /readyz 503.
  const eviction = createEvictionWatch(redis, logger, readinessDeadlineMs(config.redisWait));
  metrics.watchEviction(eviction);
  // What the ops endpoints report: the metrics port in full, the webhook port only ready or not.
  const ops: OpsDeps = {
    // A PING queues behind a WAIT on this connection: its deadline allows for one.
    isReady: async () => !shuttingDown && (await ping(redis, readinessDeadlineMs(config.redisWait))),
    // Too few replicas: every 202 would wait for ones that are not there. An evicting Redis.
    problems: async () =>
      (await Promise.all([replicaProblem(redis, config.redisWait), eviction.problem()])).filter(
        (problem) => problem !== undefined,
      ),
    metrics: metrics.registry,
  };
  const app = createApp({
    logger,
    metrics,
    authenticator: createAuthenticator(config.auth),
    enqueuer,
    isRouted: (type) => routed.has(type),
    body: config.http.body,
    refusals,
    trustedProxies: config.http.trustedProxies,
    readiness: ops,
    isShuttingDown: () => shuttingDown,
  });

  return {
    app,
    redis,
    metrics,
    /**
     * The HTTP server for the app, with the limits that keep slow or hostile clients from holding
     * sockets or memory: whole-request deadline, header size, connection cap.
     */
    createServer(): Server {
      const server = createServer(
        {
          maxHeaderSize: config.http.maxHeaderBytes,
          requestTimeout: config.http.requestTimeoutMs,
          headersTimeout: Math.min(config.http.requestTimeoutMs, 60_000),
          // Node checks those deadlines every 30 s by default: a slow client could hold a socket
          // twice as long as configured.
          connectionsCheckingInterval: Math.min(1_000, Math.floor(config.http.requestTimeoutMs / 2)),
          keepAliveTimeout: 5_000,
        },
        app,
      );
      server.maxConnections = config.http.maxConnections;
      return server;
    },
    /**
     * The ops listener (RECEIVER_METRICS_PORT): /healthz, /readyz with the reasons it is not ready,
     * /metrics; 404 for anything else. Off the webhook port, which faces the internet.
     */
    createMetricsServer(): Server {
      return createOpsServer(ops);
    },
    /** From now on /readyz answers 503 and responses close their connections. */
    beginShutdown(): void {
      shuttingDown = true;
    },
    /** Closes the queues and the connection; call once the HTTP server has drained. */
    async close(): Promise<void> {
      refusals.close();
      await recorder.close();
      await enqueuer.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
