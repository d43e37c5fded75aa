import type { EventType } from '@flexprice/contracts';
import express, { type ErrorRequestHandler, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { Authenticate } from './auth/authenticate.js';
import type { Enqueuer } from './enqueuer.js';
import { type ErrorCode, sendError } from './errors.js';
import { createHttpLogger } from './logger.js';
import type { ReceiverMetrics } from './metrics.js';
import { createWebhookHandler } from './webhook-handler.js';

export interface AppDeps {
  logger: Logger;
  metrics: ReceiverMetrics;
  authenticate: Authenticate;
  enqueuer: Pick<Enqueuer, 'enqueue'>;
  isRouted: (eventType: EventType) => boolean;
  maxBodyBytes: number;
  /** Whether Redis answers; drives /readyz. */
  isReady: () => Promise<boolean>;
  /** True once shutdown began: /readyz turns 503 and connections are not kept alive. */
  isShuttingDown?: () => boolean;
  now?: () => number;
}

/** body-parser error types we answer with our own catalog instead of an HTML page. */
const BODY_ERRORS: Record<string, ErrorCode> = {
  'entity.too.large': 'payload_too_large',
  'encoding.unsupported': 'unsupported_media_type',
  'charset.unsupported': 'unsupported_media_type',
  'request.aborted': 'bad_request',
  'request.size.invalid': 'bad_request',
};

/**
 * The receiver's HTTP surface: webhooks, health and metrics. Nothing else listens on this port (the
 * dashboard is its own app).
 */
export function createApp(deps: AppDeps): express.Express {
  const app = express();
  // Headers computed for every response that a webhook sender never reads.
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use(createHttpLogger(deps.logger));
  app.use((_req: Request, res: Response, next: NextFunction) => {
    if (deps.isShuttingDown?.()) res.setHeader('Connection', 'close');
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const ready = !deps.isShuttingDown?.() && (await deps.isReady());
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable' });
  });
  // No secrets and no personal data in here; still, expose the port to your network only.
  app.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  // Signatures are over the exact bytes: read the body raw, whatever its declared type, and parse
  // JSON once, after authentication. Compressed bodies are refused (Flexprice never sends them).
  const rawBody = express.raw({ type: () => true, limit: deps.maxBodyBytes, inflate: false });
  const handleWebhook = createWebhookHandler({ ...deps, observeEnqueue: deps.metrics.observeEnqueue });
  const count = deps.metrics.middleware;
  app.post('/webhooks/flexprice', count, rawBody, handleWebhook);
  app.post('/webhook-events/:eventType', count, rawBody, handleWebhook);

  app.use((_req, res) => sendError(res, 'not_found'));

  const onError: ErrorRequestHandler = (err: unknown, req, res, _next) => {
    const type = typeof err === 'object' && err !== null && 'type' in err ? String(err.type) : '';
    const code = BODY_ERRORS[type];
    if (code) {
      res.locals.webhook = { outcome: code === 'payload_too_large' ? 'too_large' : 'invalid', reason: code };
      return sendError(res, code);
    }
    req.log.error({ err }, 'unhandled error');
    if (!res.headersSent) sendError(res, 'internal');
  };
  app.use(onError);
  return app;
}
