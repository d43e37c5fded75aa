import type { EventType } from '@flexprice/contracts';
import { handleOps, type OpsDeps, plainReadiness } from '@flexprice/runtime';
import express, { type ErrorRequestHandler } from 'express';
import type { Logger } from 'pino';
import type { Authenticator } from './auth/authenticate.js';
import type { BodyLimits } from './body.js';
import type { Enqueuer } from './enqueuer.js';
import { sendError } from './errors.js';
import { logRequests, probing } from './logger.js';
import type { ReceiverMetrics } from './metrics.js';
import type { RefusalLog } from './refusal-log.js';
import { createWebhookHandler } from './webhook-handler.js';

/** The status an error asks for when it is a client error (http-errors' `status`), else 500. */
function statusOf(err: unknown): number {
  const status = typeof err === 'object' && err !== null && 'status' in err ? Number(err.status) : Number.NaN;
  return status >= 400 && status < 500 ? status : 500;
}

export interface AppDeps {
  logger: Logger;
  metrics: ReceiverMetrics;
  authenticator: Authenticator;
  enqueuer: Pick<Enqueuer, 'enqueue'>;
  isRouted: (eventType: EventType) => boolean;
  body: BodyLimits;
  /** Counts refusals of unauthenticated senders and logs a few (absent: each one logged). */
  refusals?: RefusalLog;
  /** Express's `trust proxy`: the proxies whose X-Forwarded-For names the client (TRUSTED_PROXIES). */
  trustedProxies?: readonly string[];
  /**
   * Whether it can take webhooks (Redis answers, not shutting down) and why not: this port's /readyz
   * answers ready or not from it, without the reasons (the metrics port lists them).
   */
  readiness: Pick<OpsDeps, 'isReady' | 'problems'>;
  /** True once shutdown began: connections are not kept alive. */
  isShuttingDown?: () => boolean;
  now?: () => number;
}

/**
 * The receiver's HTTP surface, which faces the internet: webhooks and health. Nothing else listens on
 * this port (the metrics and the reasons for not being ready are on RECEIVER_METRICS_PORT; the
 * dashboard is its own app).
 *
 * One middleware names and logs every request (`logRequests`). The webhook routes carry no other:
 * the handler reads the raw body itself (signatures are over the exact bytes; JSON is parsed once,
 * after authentication), counts its request, tells the log line what it decided and writes its
 * answer once.
 */
export function createApp(deps: AppDeps): express.Express {
  const app = express();
  // Headers computed for every response that a webhook sender never reads.
  app.disable('x-powered-by');
  app.set('etag', false);
  // None by default: a client could otherwise name any address it likes in X-Forwarded-For.
  app.set('trust proxy', deps.trustedProxies?.length ? [...deps.trustedProxies] : false);
  const shuttingDown = () => deps.isShuttingDown?.() ?? false;

  // Every request, webhooks included: one id, one clock, one line (a few, for refusals).
  app.use(logRequests(deps.logger, shuttingDown, deps.refusals));
  const handleWebhook = createWebhookHandler({ ...deps, isShuttingDown: shuttingDown });
  app.post('/webhooks/flexprice', handleWebhook);
  app.post('/webhook-events/:eventType', handleWebhook);

  // For load balancers: /healthz, and /readyz saying ready or not, never why. /metrics is a 404 here.
  const ops = plainReadiness(deps.readiness);
  for (const endpoint of ['/healthz', '/readyz'] as const) {
    app.get(endpoint, (req, res, next) => {
      probing(res);
      if (!handleOps(ops, req, res, endpoint)) next();
    });
  }

  app.use((_req, res) => sendError(res, 'not_found'));

  // Express's own 4xx (a malformed %-escape in `/webhook-events/:eventType`, say) is the client's
  // error: answered in our catalog and logged as a refusal. Anything else is ours: a 500, logged.
  const onError: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
    const status = statusOf(err);
    // Its id and its line come from logRequests, like every other request's.
    if (status >= 500) deps.logger.error({ err, requestId: res.getHeader('x-request-id') }, 'unhandled error');
    if (!res.headersSent) sendError(res, status >= 500 ? 'internal' : status === 404 ? 'not_found' : 'bad_request');
  };
  app.use(onError);
  return app;
}
