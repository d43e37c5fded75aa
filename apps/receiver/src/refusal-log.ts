import type { Logger } from 'pino';

/** Refusals of one kind logged in full per interval; the rest are counted. */
const LOGGED_IN_FULL = 5;
/** How often the counts of what was not logged are written. */
const INTERVAL_MS = 60_000;

/**
 * Refused requests from senders that proved nothing (no credentials, a bad signature, a path that
 * does not exist, a body too slow or too big) cost nothing to send: one log line each turned a
 * flood of them into a flood of logs (about 266 bytes for a 401, several times the request). Per
 * kind (status and reason, both from fixed sets), the first few of each interval are logged in
 * full; the others only counted, in one line per kind at the end of the interval (and at shutdown).
 * The metrics count every one of them anyway.
 */
export function createRefusalLog(logger: Pick<Logger, 'warn'>, options: { intervalMs?: number } = {}) {
  const intervalMs = options.intervalMs ?? INTERVAL_MS;
  const kinds = new Map<string, { status: number; reason: string | undefined; logged: number; unlogged: number }>();

  function flush(): void {
    for (const { status, reason, unlogged } of kinds.values()) {
      if (unlogged === 0) continue;
      logger.warn({ status, reason, unlogged, intervalMs }, 'requests refused and not logged one by one');
    }
    kinds.clear();
  }
  const timer = setInterval(flush, intervalMs);
  timer.unref();

  return {
    /** Whether this refusal gets a line of its own; counted either way. */
    admit(status: number, reason: string | undefined): boolean {
      const key = `${status} ${reason ?? ''}`;
      let kind = kinds.get(key);
      if (kind === undefined) {
        kind = { status, reason, logged: 0, unlogged: 0 };
        kinds.set(key, kind);
      }
      if (kind.logged < LOGGED_IN_FULL) {
        kind.logged += 1;
        return true;
      }
      kind.unlogged += 1;
      return false;
    },
    /** Writes the counts so far and stops the interval. */
    close(): void {
      clearInterval(timer);
      flush();
    },
  };
}

export type RefusalLog = ReturnType<typeof createRefusalLog>;
