import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Logger, pino } from 'pino';
import { pinoHttp } from 'pino-http';

/** Headers worth logging. Everything else (auth headers, signatures, cookies) never reaches a log. */
const LOGGED_HEADERS = ['content-type', 'content-length', 'user-agent', 'webhook-id', 'svix-id', 'x-request-id'];

/** An incoming x-request-id is honoured when it is short and plain; otherwise we mint one. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * JSON lines on stdout. No `redact` paths: nothing secret is ever handed to the logger (requests go
 * through the whitelist below; the tests grep whole runs for secrets), and wildcard redaction
 * showed up in the receiver's profile under load (`pnpm bench`).
 */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'receiver' } });
}

function serializeRequest(req: IncomingMessage & { id?: unknown }) {
  const headers: Record<string, string> = {};
  for (const name of LOGGED_HEADERS) {
    const value = req.headers[name];
    if (typeof value === 'string') headers[name] = value.slice(0, 200);
  }
  return { id: req.id, method: req.method, url: req.url, headers };
}

/**
 * One log line per request, with the request id (also returned as `x-request-id`) and what happened
 * to the webhook. Bodies are never logged: they hold customer emails and addresses.
 */
export function createHttpLogger(logger: Logger) {
  return pinoHttp({
    logger,
    genReqId(req: IncomingMessage, res: ServerResponse) {
      const incoming = req.headers['x-request-id'];
      const id = typeof incoming === 'string' && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
      res.setHeader('x-request-id', id);
      return id;
    },
    serializers: {
      req: serializeRequest,
      res: (res: ServerResponse) => ({ statusCode: res.statusCode }),
    },
    wrapSerializers: false,
    customLogLevel(_req, res, err) {
      if (err || res.statusCode >= 500) return 'error';
      return 'info';
    },
    customSuccessObject(_req, res, value) {
      const webhook = (res as ServerResponse & { locals?: { webhook?: object } }).locals?.webhook;
      return webhook ? { ...value, webhook } : value;
    },
    customSuccessMessage: (_req, res) => (res.statusCode < 300 ? 'request completed' : 'request refused'),
  });
}
