import type { IncomingMessage, ServerResponse } from 'node:http';
import { type EventType, entityIdOf, parseEventAs, resolveEventType } from '@flexprice/contracts';
import type { Logger } from 'pino';
import type { Authenticator } from './auth/authenticate.js';
import { type BodyLimits, type BodyRefusal, createBodyReader } from './body.js';
import type { Enqueuer } from './enqueuer.js';
import { ERRORS, type ErrorCode, type ErrorExtra, errorBody, errorHeaders, sendJson } from './errors.js';
import { MAX_JSON_DEPTH, nestsDeeperThan } from './json-depth.js';
import { bodyRead, decidedWebhook, decidingWebhook, elapsedMs } from './logger.js';
import type { ReceiverMetrics } from './metrics.js';
import type { WebhookOutcome } from './outcome.js';

export type { WebhookOutcome } from './outcome.js';

export interface WebhookHandlerDeps {
  authenticator: Authenticator;
  enqueuer: Pick<Enqueuer, 'enqueue'>;
  /** Whether an event type is queued (ENQUEUE_EVENTS); the others are acknowledged and ignored. */
  isRouted: (eventType: EventType) => boolean;
  body: BodyLimits;
  logger: Logger;
  metrics: Pick<ReceiverMetrics, 'observeRequest' | 'observeEnqueue'>;
  /** True once shutdown began: answers close their connections. */
  isShuttingDown?: () => boolean;
  now?: () => number;
}

/** An answer, decided before anything is written. */
interface Answer {
  status: number;
  body: object;
  webhook: WebhookOutcome;
  headers?: Record<string, string>;
}

// An answer given before the whole body was read closes the connection (`beginRequest`).
function refuse(code: ErrorCode, webhook: WebhookOutcome, extra?: ErrorExtra): Answer {
  return { status: ERRORS[code].status, body: errorBody(code, extra), webhook, headers: errorHeaders(code) };
}

const BODY_OUTCOMES = {
  payload_too_large: 'too_large',
  too_slow: 'too_slow',
  overloaded: 'overloaded',
  unsupported_media_type: 'invalid',
  bad_request: 'invalid',
} as const satisfies Record<BodyRefusal, WebhookOutcome['outcome']>;

function ignore(reason: string, webhook: Omit<WebhookOutcome, 'outcome' | 'reason'> = {}): Answer {
  return {
    status: 202,
    body: { status: 'ignored', id: null, reason },
    webhook: { ...webhook, outcome: 'ignored', reason },
  };
}

function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const mediaType = contentType.split(';', 1)[0]?.trim().toLowerCase() ?? '';
  return mediaType === 'application/json' || (mediaType.startsWith('application/') && mediaType.endsWith('+json'));
}

/** What is known of a request while it is decided, beyond its answer. */
interface Progress {
  /** The sender proved who it is: its refusals are logged one by one (`logRequests`). */
  authenticated: boolean;
}

/**
 * headers → auth (what the headers decide) → raw bytes → auth (the signature) → content type →
 * JSON → event type → route → schema → enqueue → 202.
 * Nothing is acknowledged (2xx) unless its job is in Redis, or it is deliberately ignored.
 *
 * The whole request is handled here, from reading the body to the log line: one Express route, no
 * middleware stack, the answer written once with Node's own response methods (`pnpm bench`).
 */
export function createWebhookHandler(deps: WebhookHandlerDeps) {
  const now = deps.now ?? Date.now;
  // One reader, so one body budget, for every webhook route of the process.
  const readBody = createBodyReader(deps.body);

  async function decide(
    req: IncomingMessage,
    res: ServerResponse,
    eventTypeInPath: string | undefined,
    requestId: string,
    progress: Progress,
  ): Promise<Answer> {
    // Before a byte of the body: without credentials that could be right, nothing is read.
    const headers = deps.authenticator.checkHeaders(req.headers);
    if (!headers.ok) return refuse('unauthorized', { outcome: 'unauthorized', reason: headers.reason });
    // The static token is proof enough: a refusal of its body is Flexprice's, and logged in full.
    if ('authenticated' in headers) progress.authenticated = true;

    const body = await readBody(req, res);
    if (!body.ok) return refuse(body.code, { outcome: BODY_OUTCOMES[body.code], reason: body.code });
    bodyRead(res);
    const raw = body.raw;

    const auth = 'signed' in headers ? deps.authenticator.checkBody(headers.signed, raw) : headers.authenticated;
    if (!auth.ok) return refuse('unauthorized', { outcome: 'unauthorized', reason: auth.reason });
    progress.authenticated = true;
    const deliveryId = auth.deliveryId;

    // Flexprice POSTs an empty body with no Content-Type when a wallet-balance alert lost its ids
    // (alert.go returns nil). It carries nothing to process; a 4xx would only make it retry forever.
    if (raw.length === 0) return ignore('empty_body', { deliveryId });
    if (!isJson(req.headers['content-type'])) {
      return refuse('unsupported_media_type', { outcome: 'invalid', deliveryId, reason: 'unsupported_media_type' });
    }

    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      return refuse('malformed_json', { outcome: 'invalid', deliveryId, reason: 'malformed_json' });
    }

    // Before anything else walks it: a body nested this deep can be parsed but not serialised again.
    if (nestsDeeperThan(json, MAX_JSON_DEPTH)) {
      return refuse(
        'invalid_event',
        { outcome: 'invalid', deliveryId, reason: 'too_deep' },
        { issues: [{ path: '', message: `nests deeper than ${MAX_JSON_DEPTH} levels of objects and arrays` }] },
      );
    }

    const type = resolveEventType(json);
    if (!type.ok) {
      return refuse(
        'invalid_event',
        { outcome: 'invalid', deliveryId, reason: 'invalid_event' },
        { issues: type.issues },
      );
    }
    const eventType = type.eventType;
    if (eventTypeInPath !== undefined && eventTypeInPath !== eventType) {
      return refuse(
        'event_type_mismatch',
        { outcome: 'invalid', eventType, deliveryId, reason: 'event_type_mismatch' },
        { message: `the path says "${eventTypeInPath}" but the body is a "${eventType}"` },
      );
    }
    if (!type.known) return ignore('unknown_event_type', { eventType, deliveryId });
    const known = type.eventType;
    if (!deps.isRouted(known)) return ignore('not_routed', { eventType, deliveryId });

    const parsed = parseEventAs(known, json);
    if (!parsed.ok) {
      return refuse(
        'invalid_event',
        { outcome: 'invalid', eventType, deliveryId, reason: 'invalid_event' },
        { issues: parsed.issues },
      );
    }

    const enqueueStarted = performance.now();
    const result = await deps.enqueuer.enqueue({
      eventType: known,
      event: parsed.event,
      receipt: {
        receivedAt: new Date(now()).toISOString(),
        deliveryId: deliveryId ?? null,
        requestId,
        inferredEventType: type.inferred,
      },
      deliveryId,
      entityId: entityIdOf(known, parsed.event),
      rawBody: raw,
    });
    deps.metrics.observeEnqueue(result.status, (performance.now() - enqueueStarted) / 1000);
    if (result.status === 'unavailable') {
      const why =
        result.error.name === 'ReplicaWaitError' ? 'too few redis replicas confirmed it' : 'redis unavailable';
      deps.logger.warn({ err: result.error, queue: result.queue, requestId }, `enqueue failed: ${why}`);
      return refuse('unavailable', { outcome: 'unavailable', eventType, deliveryId });
    }
    if (result.status === 'error') {
      deps.logger.error({ err: result.error, queue: result.queue, requestId }, 'enqueue failed: not a redis outage');
      return refuse('internal', { outcome: 'error', eventType, deliveryId, reason: 'enqueue_error' });
    }
    const key = result.idempotencyKey;
    return {
      status: 202,
      body: { status: result.status, id: result.jobId },
      webhook: { outcome: result.status, eventType, deliveryId, idempotencyKey: key, jobId: result.jobId },
    };
  }

  return async function handleWebhook(req: IncomingMessage & { params?: Record<string, string> }, res: ServerResponse) {
    const start = decidingWebhook(res);
    const progress: Progress = { authenticated: false };
    let answer: Answer;
    try {
      answer = await decide(req, res, req.params?.eventType, start.id, progress);
    } catch (err) {
      deps.logger.error({ err, requestId: start.id }, 'unhandled error');
      answer = refuse('internal', { outcome: 'error' });
    }
    decidedWebhook(deps.logger, req, res, answer.status, answer.webhook, progress.authenticated);
    sendJson(res, answer.status, answer.body, answer.headers);
    deps.metrics.observeRequest(answer.webhook, elapsedMs(start) / 1000);
  };
}
