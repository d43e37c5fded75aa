import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createLogger as createServiceLogger } from '@flexprice/runtime';
import type { Logger } from 'pino';
import type { WebhookOutcome } from './outcome.js';
import type { RefusalLog } from './refusal-log.js';

/** The runtime's logging policy (request lines are built field by field below, never from headers or bodies). */
export function createLogger(level: string): Logger {
  return createServiceLogger('receiver', { level });
}

/** An incoming x-request-id is honoured when it is short and plain; otherwise we mint one. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** What is known of a request from its first byte: its id and when it began. */
export interface RequestStart {
  id: string;
  startedAt: number;
}

/** Whether a request announces a body (a length above 0, or chunks). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Names the request (also returned as `x-request-id`, and carried by its job to the worker's logs
 * and the forward) and starts its clock.
 *
 * A request with a body is answered with `Connection: close` unless its route read the whole body
 * (`bodyRead`): to keep a connection for the next request, Node reads and discards whatever body
 * is left, however long (an endless chunked body behind a 404 kept a core busy and took 40 GiB in
 * 16 s). So does every answer while shutting down.
 */
export function beginRequest(req: IncomingMessage, res: ServerResponse, closeConnection: boolean): RequestStart {
  const incoming = req.headers['x-request-id'];
  const id = typeof incoming === 'string' && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
  res.setHeader('x-request-id', id);
  if (closeConnection || hasBody(req)) res.setHeader('connection', 'close');
  return { id, startedAt: performance.now() };
}

interface LogEntry {
  start: RequestStart;
  /** Shutting down: the connection closes after this answer whatever happens. */
  closing: boolean;
  /** A health probe: its line is at debug level while it answers 2xx. */
  probe: boolean;
  /** A webhook route is deciding: its line waits for the decision (a client may leave before). */
  deciding: boolean;
  closed: boolean;
  written: boolean;
  status?: number;
  webhook?: WebhookOutcome;
  /** The sender proved who it is (a webhook's credentials). */
  authenticated?: boolean;
  refusals: RefusalLog | undefined;
}

const ENTRIES = new WeakMap<ServerResponse, LogEntry>();

/**
 * Every request's one logging path, mounted first: names the request, starts its clock, and writes
 * its line once its connection is done with it, with what the webhook handler decided when it is a
 * webhook (`decidingWebhook` / `decidedWebhook`), even when the client left before the answer.
 */
export function logRequests(logger: Logger, closeConnection: () => boolean, refusals?: RefusalLog) {
  return (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    const closing = closeConnection();
    const entry: LogEntry = {
      start: beginRequest(req, res, closing),
      closing,
      probe: false,
      deciding: false,
      closed: false,
      written: false,
      refusals,
    };
    ENTRIES.set(res, entry);
    res.once('close', () => {
      entry.closed = true;
      write(logger, req, res, entry);
    });
    next();
  };
}

function write(logger: Logger, req: IncomingMessage, res: ServerResponse, entry: LogEntry): void {
  if (entry.written || !entry.closed || entry.deciding) return;
  entry.written = true;
  // A client that left before a route answered: 499 ("client closed request"), never a 200 unsent.
  const status = entry.status ?? (res.writableFinished ? res.statusCode : 499);
  // Refusals of senders that proved nothing cost them nothing to send: counted, a few logged in full.
  const unproven = status >= 400 && status !== 500 && entry.authenticated !== true;
  if (unproven && entry.refusals && !entry.refusals.admit(status, entry.webhook?.reason)) return;
  const level = entry.probe && status < 400 ? 'debug' : undefined;
  logRequest(logger, req, status, entry.start.id, elapsedMs(entry.start), entry.webhook, level);
}

function entryOf(res: ServerResponse): LogEntry {
  const entry = ENTRIES.get(res);
  if (!entry) throw new Error('logRequests() must be mounted before the webhook routes');
  return entry;
}

/** The webhook handler starts deciding: the request's id and clock, and its line held until it has. */
export function decidingWebhook(res: ServerResponse): RequestStart {
  const entry = entryOf(res);
  entry.deciding = true;
  return entry.start;
}

/** The webhook handler read the whole body: the connection may serve the next request. */
export function bodyRead(res: ServerResponse): void {
  if (!entryOf(res).closing) res.removeHeader('connection');
}

/** A health probe: logged at debug level unless it fails. */
export function probing(res: ServerResponse): void {
  entryOf(res).probe = true;
}

/** The webhook handler decided: what its line says (written now if the client already left). */
export function decidedWebhook(
  logger: Logger,
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  webhook: WebhookOutcome,
  authenticated = false,
): void {
  const entry = entryOf(res);
  Object.assign(entry, { deciding: false, status, webhook, authenticated });
  write(logger, req, res, entry);
}

/** Milliseconds since the request began, to the microsecond. */
export function elapsedMs(start: RequestStart): number {
  return Math.round((performance.now() - start.startedAt) * 1000) / 1000;
}

/**
 * One line per request, written when its answer is: the request id, the client's address, method,
 * path, status, time and, for webhooks, what happened to it. Built field by field: headers and bodies (signatures,
 * tokens, customer emails and addresses) never reach it. This replaces pino-http, whose child
 * logger and serializers per request were the largest item of the receiver's own code in the
 * `pnpm bench` profile.
 */
export function logRequest(
  logger: Logger,
  req: IncomingMessage,
  status: number,
  requestId: string,
  responseTime: number,
  webhook?: WebhookOutcome,
  level: 'error' | 'info' | 'debug' = status >= 500 ? 'error' : 'info',
): void {
  if (!logger.isLevelEnabled(level)) return;
  const line = {
    requestId,
    // Express's `req.ip`: the peer, or the client a trusted proxy names (TRUSTED_PROXIES).
    ip: (req as IncomingMessage & { ip?: string }).ip ?? req.socket?.remoteAddress,
    method: req.method,
    path: truncate(req.url ?? ''),
    status,
    responseTime,
    ...(webhook && { webhook }),
  };
  logger[level](line, status < 300 ? 'request completed' : 'request refused');
}

function truncate(value: string): string {
  return value.length > 200 ? `${value.slice(0, 200)}…` : value;
}
