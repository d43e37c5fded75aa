import { type DestinationStream, type Logger, pino } from 'pino';

/**
 * The one logging policy of every app: JSON lines on stdout, a `service` field, and nothing secret
 * or personal handed to a logger at all (request lines and job lines are built field by field; the
 * tests grep whole runs for secrets and e-mails). As a second line of defence, every line is
 * redacted: a field named in REDACTED_KEYS, at the top of the line or one object down (`customer`,
 * `err.token`, `result.email`), is logged as `[redacted]`: secrets, tokens, and the personal data of
 * a customer (e-mail, postal address, the customer object itself). A child logger's bindings too.
 *
 * Not pino's `redact` option: its wildcard paths (`*.email`) took 9 % of the worker's CPU draining
 * a backlog (`pnpm bench`, a CPU profile) and had made the receiver opt out. This check walks the
 * line's keys once and copies only a line that has something to hide, so every app keeps it.
 */
export const REDACTED_KEYS: ReadonlySet<string> = new Set([
  'secret',
  'token',
  'password',
  'authorization',
  'email',
  'address_line1',
  'address_line2',
  'address_city',
  'address_postal_code',
  'customer',
]);

export const CENSOR = '[redacted]';

const isPlainObject = (value: unknown): value is Record<string, unknown> => {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
};

/** One object's sensitive fields censored, in a copy; the object itself when it has none. */
function censorFields(object: Record<string, unknown>): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const key in object) {
    if (REDACTED_KEYS.has(key)) {
      copy ??= { ...object };
      copy[key] = CENSOR;
    }
  }
  return copy ?? object;
}

/** A log line's fields with REDACTED_KEYS censored, two levels deep; the line itself when clean. */
export function redactLine(line: Record<string, unknown>): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const key in line) {
    const value = line[key];
    let censored = value;
    if (REDACTED_KEYS.has(key)) censored = CENSOR;
    else if (isPlainObject(value)) censored = censorFields(value);
    if (censored !== value) {
      copy ??= { ...line };
      copy[key] = censored;
    }
  }
  return copy ?? line;
}

export interface LoggerOptions {
  level: string;
  /** Where lines go: stdout by default; a CLI logs to stderr (2), its stdout is its answer. */
  destination?: 1 | 2 | DestinationStream;
}

export function createLogger(service: string, options: LoggerOptions): Logger {
  const settings = { level: options.level, base: { service }, formatters: { log: redactLine } };
  const { destination = 1 } = options;
  const logger = pino(settings, typeof destination === 'number' ? pino.destination(destination) : destination);
  // A child's bindings are fields of all its lines, serialized once when it is made (pino gives
  // children no formatter of their own): they are redacted there. Children inherit this `child`.
  const child = logger.child;
  logger.child = function redactedChild(this: Logger, bindings, childOptions) {
    return child.call(this, redactLine(bindings), childOptions);
  } as Logger['child'];
  return logger;
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
