import type { ServerResponse } from 'node:http';
import type { Issue } from '@flexprice/contracts';

/**
 * Every error the receiver answers with: a stable code (for the sender's logs and our metrics), an
 * HTTP status and a message that helps a legitimate sender without helping a forger.
 */
export const ERRORS = {
  unauthorized: { status: 401, message: 'missing or invalid webhook credentials' },
  malformed_json: { status: 400, message: 'the body is not valid JSON' },
  bad_request: { status: 400, message: 'the request could not be read' },
  event_type_mismatch: { status: 400, message: 'the event type in the path does not match the body' },
  not_found: { status: 404, message: 'no such endpoint' },
  too_slow: { status: 408, message: 'the body arrived too slowly' },
  payload_too_large: { status: 413, message: 'the body is larger than MAX_BODY_BYTES' },
  unsupported_media_type: { status: 415, message: 'webhooks must be sent as application/json' },
  invalid_event: { status: 422, message: 'the event does not match the Flexprice schema' },
  unavailable: { status: 503, message: 'the queue is unavailable; retry later' },
  overloaded: { status: 503, message: 'too many bodies being received at once; retry later' },
  internal: { status: 500, message: 'internal error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** Seconds a sender should wait after a 503; Svix and Flexprice's cron retry on their own anyway. */
export const RETRY_AFTER_SECONDS = 5;

export interface ErrorExtra {
  issues?: Issue[];
  message?: string;
}

/** The JSON body of an error answer. */
export function errorBody(code: ErrorCode, extra: ErrorExtra = {}): object {
  return { error: code, message: extra.message ?? ERRORS[code].message, ...(extra.issues && { issues: extra.issues }) };
}

/**
 * Writes a JSON answer in one go, through Node's own response methods: Express's `res.json` would
 * also look up the charset, consider an ETag and freshness, none of which a webhook sender reads.
 */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: object,
  headers: Record<string, string> = {},
): void {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(json)),
  });
  res.end(json);
}

/** The headers an error answer carries: when to come back, for a 503. */
export function errorHeaders(code: ErrorCode): Record<string, string> {
  return ERRORS[code].status === 503 ? { 'retry-after': String(RETRY_AFTER_SECONDS) } : {};
}

export function sendError(res: ServerResponse, code: ErrorCode, extra: ErrorExtra = {}): void {
  sendJson(res, ERRORS[code].status, errorBody(code, extra), errorHeaders(code));
}
