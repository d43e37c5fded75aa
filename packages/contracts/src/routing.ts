import { EVENT_CATALOG, EVENT_TYPES, type EventType, type Family } from './event-types.js';

/**
 * WARNING: queue names are persisted state. Jobs already in Redis live under these names; renaming
 * one strands them (and their dead letters) where no worker looks.
 */
export type QueueName = `flexprice.${Family}`;

export function queueNameOf(family: Family): QueueName {
  return `flexprice.${family}`;
}

/** Event type → family → queue. */
export function routeOf(eventType: EventType): { family: Family; queue: QueueName } {
  const { family } = EVENT_CATALOG[eventType];
  return { family, queue: queueNameOf(family) };
}

/**
 * Compiles `ENQUEUE_EVENTS`-style patterns (`customer.*`, `invoice.update.finalized`, `*`). A `*`
 * stands for one or more whole segments. Returns the matcher, or the patterns that match no event
 * Flexprice sends (almost certainly a typo).
 */
export function compileEventFilter(
  patterns: readonly string[],
):
  | { ok: true; matches: (eventType: EventType) => boolean; selected: EventType[] }
  | { ok: false; unmatched: string[] } {
  const regexes = patterns.map((pattern) => ({
    pattern,
    regex: new RegExp(
      `^${pattern
        .split('.')
        .map((segment) => (segment === '*' ? '[^]+' : segment.replace(/[^a-z0-9_]/gi, '\\$&')))
        .join('\\.')}$`,
    ),
  }));
  const unmatched = regexes.filter(({ regex }) => !EVENT_TYPES.some((type) => regex.test(type)));
  if (unmatched.length > 0) return { ok: false, unmatched: unmatched.map(({ pattern }) => pattern) };
  const selected = new Set(EVENT_TYPES.filter((type) => regexes.some(({ regex }) => regex.test(type))));
  return { ok: true, matches: (eventType) => selected.has(eventType), selected: [...selected] };
}
