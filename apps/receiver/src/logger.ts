import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Logger, pino } from 'pino';
import type { WebhookOutcome } from './webhook-handler.js';

/**
 * JSON lines on stdout. No `redact` paths: nothing secret is ever handed to the logger (request
 * lines are built field by field below, never from the headers; the tests grep whole runs for
 * secrets), and wildcard redaction showed up in the receiver's profile under load (`pnpm bench`).
 */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'receiver' } });
}

/** An incoming x-request-id is honoured when it is short and plain; otherwise we mint one. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** What is known of a request from its first byte: its id and when it began. */
export interface RequestStart {
  id: string;
  startedAt: number;
}

/**
 * Names the request (also returned as `x-request-id`, and carried by its job to the worker's logs
 * and the forward) and starts its clock.
 */
export function beginRequest(req: IncomingMessage, res: ServerResponse, closeConnection: boolean): RequestStart {
  const incoming = req.headers['x-request-id'];
  const id = typeof incoming === 'string' && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
  res.setHeader('x-request-id', id);
  if (closeConnection) res.setHeader('connection', 'close');
  return { id, startedAt: performance.now() };
}

/** Milliseconds since the request began, to the microsecond. */
export function elapsedMs(start: RequestStart): number {
  return Math.round((performance.now() - start.startedAt) * 1000) / 1000;
}

/**
 * One line per request, written when its answer is: the request id, method, path, status, time
 * and, for webhooks, what happened to it. Built field by field: headers and bodies (signatures,
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
): void {
  const level = status >= 500 ? 'error' : 'info';
  if (!logger.isLevelEnabled(level)) return;
  const line = {
    requestId,
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
