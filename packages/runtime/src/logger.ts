import { type Logger, pino } from 'pino';

/**
 * The one logging policy of every app: JSON lines on stdout, a `service` field, and nothing secret
 * or personal handed to a logger at all (request lines and job lines are built field by field; the
 * tests grep whole runs for secrets and e-mails). As a second line of defence, these paths are
 * redacted: secrets, tokens, and the personal data of a customer (e-mail, postal address, the
 * customer object itself).
 *
 * The one exception is stated here: the receiver opts out (`redact: false`). Its lines are built
 * field by field on the hot path and carry no objects, and pino's wildcard redaction showed up in
 * its profile under load (`pnpm bench`).
 */
export const REDACTED_PATHS = [
  '*.secret',
  '*.token',
  '*.password',
  '*.email',
  '*.address_line1',
  '*.address_line2',
  '*.address_city',
  '*.address_postal_code',
  'customer',
  '*.customer',
] as const;

export interface LoggerOptions {
  level: string;
  /** Redact REDACTED_PATHS (default true; see above for the one app that opts out). */
  redact?: boolean;
  /** Where lines go: stdout by default; a CLI logs to stderr (2), its stdout is its answer. */
  destination?: 1 | 2;
}

export function createLogger(service: string, options: LoggerOptions): Logger {
  const settings = {
    level: options.level,
    base: { service },
    ...(options.redact !== false && { redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' } }),
  };
  return options.destination === 2 ? pino(settings, pino.destination(2)) : pino(settings);
}

/**
 * Reports the errors a Redis connection (or a BullMQ queue or worker) emits, instead of swallowing
 * them: each new error at once, a repeat of the last one at most once per `everyMs` (with how many
 * repeats were left out), so an outage is visible without flooding the log. Returns the listener.
 */
export function reportRedisErrors(
  emitter: { on(event: 'error', listener: (err: Error) => void): unknown },
  logger: Pick<Logger, 'warn'>,
  what: string,
  everyMs = 30_000,
): (err: unknown) => void {
  let lastAt = Number.NEGATIVE_INFINITY;
  let lastMessage = '';
  let quiet = 0;
  const listener = (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    const now = Date.now();
    // A different error (NOAUTH after ECONNREFUSED, say) is always told.
    if (now - lastAt < everyMs && message === lastMessage) {
      quiet += 1;
      return;
    }
    logger.warn({ what, error: message, ...(quiet > 0 && { repeatedBefore: quiet }) }, 'redis error');
    lastAt = now;
    lastMessage = message;
    quiet = 0;
  };
  emitter.on('error', listener);
  return listener;
}
