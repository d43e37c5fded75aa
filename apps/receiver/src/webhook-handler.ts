import { type EventType, idempotencyKey, parseEventAs, resolveEventType, type WebhookJob } from '@flexprice/contracts';
import type { Request, Response } from 'express';
import type { Authenticate } from './auth/authenticate.js';
import type { Enqueuer } from './enqueuer.js';
import { sendError } from './errors.js';

export interface WebhookHandlerDeps {
  authenticate: Authenticate;
  enqueuer: Pick<Enqueuer, 'enqueue'>;
  /** Times each enqueue (Prometheus). */
  observeEnqueue?: (result: 'queued' | 'duplicate' | 'unavailable', seconds: number) => void;
  /** Whether an event type is queued (ENQUEUE_EVENTS); the others are acknowledged and ignored. */
  isRouted: (eventType: EventType) => boolean;
  now?: () => number;
}

/** What the request log line says about the webhook, beyond the HTTP basics. */
export interface WebhookOutcome {
  outcome: 'queued' | 'duplicate' | 'ignored' | 'unauthorized' | 'invalid' | 'too_large' | 'unavailable';
  eventType?: string;
  idempotencyKey?: string;
  jobId?: string;
  reason?: string;
}

function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const mediaType = contentType.split(';', 1)[0]?.trim().toLowerCase() ?? '';
  return mediaType === 'application/json' || (mediaType.startsWith('application/') && mediaType.endsWith('+json'));
}

function record(res: Response, outcome: WebhookOutcome): void {
  res.locals.webhook = outcome;
}

/**
 * raw bytes → auth → content type → JSON → event type → route → schema → enqueue → 202.
 * Nothing is acknowledged (2xx) unless its job is in Redis, or it is deliberately ignored.
 */
export function createWebhookHandler(deps: WebhookHandlerDeps) {
  const now = deps.now ?? Date.now;

  return async function handleWebhook(req: Request, res: Response): Promise<void> {
    const raw: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);

    const auth = deps.authenticate(req.headers, raw);
    if (!auth.ok) {
      record(res, { outcome: 'unauthorized', reason: auth.reason });
      return sendError(res, 'unauthorized');
    }

    // Flexprice POSTs an empty body with no Content-Type when a wallet-balance alert lost its ids
    // (alert.go returns nil). It carries nothing to process; a 4xx would only make it retry forever.
    if (raw.length === 0) {
      record(res, { outcome: 'ignored', reason: 'empty_body' });
      res.status(202).json({ status: 'ignored', id: null, reason: 'empty_body' });
      return;
    }
    if (!isJson(req.headers['content-type'])) {
      record(res, { outcome: 'invalid', reason: 'unsupported_media_type' });
      return sendError(res, 'unsupported_media_type');
    }

    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      record(res, { outcome: 'invalid', reason: 'malformed_json' });
      return sendError(res, 'malformed_json');
    }

    const type = resolveEventType(body);
    if (!type.ok) {
      record(res, { outcome: 'invalid', reason: 'invalid_event' });
      return sendError(res, 'invalid_event', { issues: type.issues });
    }
    const pathType = req.params.eventType;
    if (typeof pathType === 'string' && pathType !== type.eventType) {
      record(res, { outcome: 'invalid', eventType: type.eventType, reason: 'event_type_mismatch' });
      return sendError(res, 'event_type_mismatch', {
        message: `the path says "${pathType}" but the body is a "${type.eventType}"`,
      });
    }
    if (!type.known || !deps.isRouted(type.eventType)) {
      const reason = type.known ? 'not_routed' : 'unknown_event_type';
      record(res, { outcome: 'ignored', eventType: type.eventType, reason });
      res.status(202).json({ status: 'ignored', id: null, reason });
      return;
    }

    const parsed = parseEventAs(type.eventType, body);
    if (!parsed.ok) {
      record(res, { outcome: 'invalid', eventType: type.eventType, reason: 'invalid_event' });
      return sendError(res, 'invalid_event', { issues: parsed.issues });
    }

    const key = idempotencyKey({ deliveryId: auth.deliveryId, eventType: type.eventType, rawBody: raw });
    const job: WebhookJob = {
      eventType: type.eventType,
      event: parsed.event,
      receipt: {
        receivedAt: new Date(now()).toISOString(),
        deliveryId: auth.deliveryId ?? null,
        idempotencyKey: key,
        requestId: String(req.id),
        inferredEventType: type.inferred,
      },
    };
    const enqueueStarted = process.hrtime.bigint();
    const result = await deps.enqueuer.enqueue(job);
    deps.observeEnqueue?.(result.status, Number(process.hrtime.bigint() - enqueueStarted) / 1e9);
    if (result.status === 'unavailable') {
      record(res, { outcome: 'unavailable', eventType: type.eventType, idempotencyKey: key });
      req.log.warn({ err: result.error, queue: result.queue }, 'enqueue failed');
      return sendError(res, 'unavailable');
    }
    record(res, { outcome: result.status, eventType: type.eventType, idempotencyKey: key, jobId: result.jobId });
    res.status(202).json({ status: result.status, id: result.jobId });
  };
}
