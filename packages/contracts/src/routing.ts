import { EVENT_CATALOG, EVENT_TYPES, type EventType, FAMILIES, type Family } from './event-types.js';

/**
 * WARNING: queue names are persisted state. Jobs already in Redis live under these names; renaming
 * one strands them (and their dead letters) where no worker looks.
 */
export type QueueName = `flexprice.${Family}`;

export function queueNameOf(family: Family): QueueName {
  return `flexprice.${family}`;
}

/**
 * WARNING: persisted state, like the family queues. The reconciler's queue (SYNC_INTERVAL): one job
 * per interval, run by one worker at a time.
 */
export const SYNC_QUEUE = 'flexprice.sync' as const;

/**
 * Every queue the apps touch: the family queues, then the reconciler's. What the dashboard, the
 * queue gauges and `pnpm dlq` list: a queue missing here is one they forget.
 */
export const QUEUE_NAMES: readonly (QueueName | typeof SYNC_QUEUE)[] = [
  ...FAMILIES.map((family) => queueNameOf(family)),
  SYNC_QUEUE,
];

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

/**
 * The event types the worker processes without a forward route (its built-in handlers: the customer
 * store). Everything else that is queued needs a route. The worker's handler registry is checked
 * against this list by a test: a handler added there is added here too.
 */
export const BUILT_IN_HANDLERS: readonly EventType[] = ['customer.created', 'customer.updated', 'customer.deleted'];

/** One `pattern=url` of FORWARD_ROUTES, with the event types it claims (first match wins). */
export interface ForwardRoute {
  pattern: string;
  url: string;
  /** The types this route forwards: those its pattern matches and no earlier route claimed. */
  claims: EventType[];
}

/**
 * Parses FORWARD_ROUTES: `pattern=url` pairs separated by spaces or commas, patterns as in
 * ENQUEUE_EVENTS, the first match wins. Returns the routes, or every problem found: an entry that
 * is not `pattern=url`, a URL that is not http(s) or carries `user:password@` (fetch refuses it on
 * every forward), a pattern that matches no event type, or one that earlier routes leave nothing to.
 * A problem never quotes a URL: it may hold a credential.
 */
export function parseForwardRoutes(
  value: string | undefined,
  /** Routes that come first (the worker's customer route, from CUSTOMER_FORWARD_URL, its alias). */
  before: readonly { pattern: string; url: string }[] = [],
): { ok: true; routes: ForwardRoute[] } | { ok: false; problems: string[] } {
  const entries = [
    ...before,
    ...(value ?? '')
      .split(/[\s,]+/)
      .filter((entry) => entry.length > 0)
      .map((entry) => {
        const at = entry.indexOf('=');
        return at < 0 ? { pattern: entry, url: '' } : { pattern: entry.slice(0, at), url: entry.slice(at + 1) };
      }),
  ];
  const problems: string[] = [];
  const claimed = new Set<EventType>();
  const routes: ForwardRoute[] = [];
  for (const { pattern, url } of entries) {
    if (pattern.length === 0 || url.length === 0) {
      problems.push(
        `${pattern ? `"${pattern}"` : 'an entry without a pattern'} is not pattern=url (e.g. invoice.*=https://billing.internal/hooks)`,
      );
      continue;
    }
    const parsed = httpUrlOf(url);
    if (!parsed) problems.push(`${pattern}: its URL is not an http(s) URL`);
    if (parsed && (parsed.username !== '' || parsed.password !== '')) {
      problems.push(
        `${pattern}: its URL carries a user name or password (user:password@…), which every forward would fail on: ` +
          'remove it (the target authenticates forwards by their signature, FORWARD_SECRET)',
      );
    }
    const filter = compileEventFilter([pattern]);
    if (!filter.ok) {
      problems.push(`${pattern}: matches no Flexprice event type`);
      continue;
    }
    const claims = filter.selected.filter((type) => !claimed.has(type));
    if (claims.length === 0) problems.push(`${pattern}: every event it matches is taken by an earlier route`);
    for (const type of claims) claimed.add(type);
    routes.push({ pattern, url, claims });
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, routes };
}

function httpUrlOf(value: string): URL | undefined {
  try {
    const url = new URL(value);
    return ['http:', 'https:'].includes(url.protocol) ? url : undefined;
  } catch {
    return undefined;
  }
}

/** The route that forwards an event type, if any. */
export function routeFor(routes: readonly ForwardRoute[], eventType: EventType): ForwardRoute | undefined {
  return routes.find((route) => route.claims.includes(eventType));
}

/**
 * What is wrong when ENQUEUE_EVENTS queues types that nothing would process (no built-in handler,
 * no route): their jobs would be acknowledged to Flexprice and then wait forever. The receiver and
 * the worker refuse to start with this message, given the same configuration.
 */
export function unprocessedProblem(
  enqueued: readonly EventType[],
  routes: readonly ForwardRoute[],
): string | undefined {
  const orphans = enqueued.filter((type) => !BUILT_IN_HANDLERS.includes(type) && routeFor(routes, type) === undefined);
  if (orphans.length === 0) return undefined;
  const shown =
    orphans.length > 6 ? `${orphans.slice(0, 6).join(', ')} and ${orphans.length - 6} more` : orphans.join(', ');
  return (
    `queues ${shown}, which nothing processes: add a route to FORWARD_ROUTES ` +
    `(e.g. ${orphans[0]}=https://your-service/hooks) or leave them out of ENQUEUE_EVENTS`
  );
}
