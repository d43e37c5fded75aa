import { redactUrl, redactUrlsIn } from '@flexprice/runtime';
import { UnrecoverableError } from 'bullmq';
import { Webhook } from 'standardwebhooks';
import type { ForwardStatusClass } from '../metrics.js';

/** A forward that may succeed later (408, 425, 429, 5xx, timeout, connection error). */
export class RetryableForwardError extends Error {
  constructor(
    message: string,
    /** What the target's `Retry-After` asked for, in milliseconds. */
    readonly retryAfterMs?: number,
    /**
     * No answer, but the request may have reached the target (a timeout, a connection cut): it may
     * still be working on it. False when it answered, or when no connection was ever made.
     */
    readonly mayBeInFlight = false,
  ) {
    super(message);
    this.name = 'RetryableForwardError';
  }
}

/** A forward the target answered with a status no retry changes (other 4xx, a redirect). */
export class RefusedForwardError extends UnrecoverableError {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'RefusedForwardError';
  }
}

const RETRYABLE_STATUSES = new Set([408, 425, 429]);

/** Failures after the request may have reached the target: it may still be working on it. */
const CUT_MID_REQUEST = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

/** `Retry-After` is either seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(date - now, 0);
}

export interface ForwardRequest {
  /** The job's idempotency key: sent as `webhook-id` so the target can deduplicate. */
  id: string;
  eventType: string;
  requestId: string;
  /** The version of the state forwarded (sent as `x-entity-version`). */
  version: string;
  /**
   * Where the version's time comes from (`x-entity-version-clock`): the payload's own time, when it
   * was accepted, or the `updated_at` Flexprice's API answered. Compare versions of one entity only
   * within one clock.
   */
  versionClock?: 'payload' | 'receipt' | 'api' | undefined;
  body: unknown;
}

export interface ForwarderOptions {
  url: string;
  /** Standard Webhooks secrets (`whsec_…`): each signs every request, so a target can rotate. */
  secrets: readonly string[];
  timeoutMs: number;
  now?: () => number;
  /** Times each forward by answer class (Prometheus). */
  observe?: (statusClass: ForwardStatusClass, seconds: number) => void;
}

/**
 * POSTs an event to one of your services, signed Standard-Webhooks style, and classifies the answer:
 * resolves on 2xx, throws RetryableForwardError when a later try may succeed, and
 * UnrecoverableError (straight to the failed set) when it will not (other 4xx, redirects).
 */
export function createForwarder(options: ForwarderOptions) {
  const signers = options.secrets.map((secret) => new Webhook(secret));
  if (signers.length === 0) throw new Error('a forwarder needs at least one secret');
  const now = options.now ?? Date.now;
  // Errors become jobs' failure reasons (the dashboard, `pnpm dlq list`) and log lines: the URL
  // there never holds a password or a query token.
  const target = redactUrl(options.url);

  return async function forward(request: ForwardRequest): Promise<{ status: number }> {
    const body = JSON.stringify(request.body);
    const sentAt = new Date(now());
    const started = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
    let response: Response;
    try {
      response = await fetch(options.url, {
        method: 'POST',
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(options.timeoutMs),
        headers: {
          'content-type': 'application/json',
          'webhook-id': request.id,
          'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
          // One signature per secret, space-separated, as Standard Webhooks rotates keys.
          'webhook-signature': signers.map((signer) => signer.sign(request.id, sentAt, body)).join(' '),
          'x-request-id': request.requestId,
          'x-flexprice-event-type': request.eventType,
          'x-entity-version': request.version,
          ...(request.versionClock && { 'x-entity-version-clock': request.versionClock }),
        },
      });
    } catch (error) {
      const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      options.observe?.(timedOut ? 'timeout' : 'error', elapsed());
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause : undefined;
      const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? '';
      // (HPE_*: the answer could not be parsed; the request had been sent.)
      const cut = CUT_MID_REQUEST.has(code) || code.startsWith('HPE_');
      // (fetch quotes a URL it refuses, password and all.)
      const detail = redactUrlsIn(cause?.message ?? (error instanceof Error ? error.message : String(error)));
      const reason = timedOut
        ? `no answer within ${options.timeoutMs} ms`
        : `${cut ? 'connection cut before an answer' : 'could not connect'}: ${detail}`;
      throw new RetryableForwardError(`forward to ${target} failed: ${reason}`, undefined, timedOut || cut);
    }
    // The body is not used; reading it frees the connection for reuse.
    await response.arrayBuffer().catch(() => undefined);
    const { status } = response;
    options.observe?.(`${Math.min(Math.max(Math.floor(status / 100), 2), 5)}xx` as ForwardStatusClass, elapsed());
    if (status >= 200 && status < 300) return { status };
    const message = `forward to ${target} answered ${status}`;
    if (status >= 500 || RETRYABLE_STATUSES.has(status)) {
      throw new RetryableForwardError(message, parseRetryAfter(response.headers.get('retry-after'), now()));
    }
    throw new RefusedForwardError(`${message} (not retried: the target refused this event)`, status);
  };
}

export type Forward = ReturnType<typeof createForwarder>;
