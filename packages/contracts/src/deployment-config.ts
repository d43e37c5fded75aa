import { createHash } from 'node:crypto';
import { z } from 'zod';
import { EVENT_CATALOG, EVENT_TYPES, isEventType } from './event-types.js';

/**
 * What a receiver or a worker records in Redis about the configuration it runs with, so that a
 * worker can tell when it cannot process what the live receivers queue (ENQUEUE_EVENTS and
 * FORWARD_ROUTES set differently on the two sides, as a rolling deploy does for a while). Written by
 * one version and read by another: event types and families are plain strings here (a newer
 * receiver may queue a type this worker does not know), and unknown fields are ignored.
 *
 * Never a URL or a secret: routes are recorded by pattern and the types they claim.
 */
export const recordedConfigSchema = z.object({
  role: z.enum(['receiver', 'worker']),
  /** host:pid:random, unique per process. */
  instance: z.string(),
  /** The app's package version. */
  version: z.string(),
  /** `configHash` of what the two sides must agree on: equal hashes, equal settings. */
  hash: z.string(),
  /** When the record was last written, in Redis' clock (ms). */
  at: z.number(),
  /**
   * The queues: QUEUE_PREFIX (records are read per prefix, so a worker under another prefix sees
   * no receiver at all) and QUEUE_SHARDS (absent from versions before shards: one queue per family).
   */
  queue: z.looseObject({ prefix: z.string(), shards: z.number().int().positive().optional() }),
  /** The event types this process queues (receiver) or was told are queued (worker's ENQUEUE_EVENTS). */
  enqueues: z.array(z.string()),
  /** FORWARD_ROUTES (and the customer route's alias), as patterns and the types each claims. */
  routes: z.array(z.object({ pattern: z.string(), claims: z.array(z.string()) })),
  /** Worker: the event types it has a handler for. */
  handles: z.array(z.string()).optional(),
  /** Worker: the families it runs a queue consumer for. */
  consumes: z.array(z.string()).optional(),
});

export type RecordedConfig = z.infer<typeof recordedConfigSchema>;

/** What `configHash` covers: the settings the receivers and the workers must agree on. */
export type AgreedSettings = Pick<RecordedConfig, 'queue' | 'enqueues' | 'routes'>;

/** A short hash of the agreed settings, the same for the same settings in any order. */
export function configHash(settings: AgreedSettings): string {
  const canonical = JSON.stringify({
    queue: Object.fromEntries(Object.entries(settings.queue).sort(([a], [b]) => a.localeCompare(b))),
    enqueues: [...settings.enqueues].sort(),
    routes: settings.routes.map(({ pattern, claims }) => ({ pattern, claims: [...claims].sort() })),
  });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 12);
}

/**
 * A process's record (less `at`, stamped at each write): its routes as patterns and claims only
 * (a route's URL may carry a token), and the hash of what it must agree on.
 */
export function describeConfig(config: {
  role: RecordedConfig['role'];
  instance: string;
  version: string;
  queue: RecordedConfig['queue'];
  enqueues: readonly string[];
  routes: readonly { pattern: string; claims: readonly string[] }[];
  handles?: readonly string[];
  consumes?: readonly string[];
}): Omit<RecordedConfig, 'at'> {
  const routes = config.routes.map(({ pattern, claims }) => ({ pattern, claims: [...claims] }));
  const enqueues = [...config.enqueues];
  return {
    role: config.role,
    instance: config.instance,
    version: config.version,
    queue: config.queue,
    enqueues,
    routes,
    ...(config.handles && { handles: [...config.handles] }),
    ...(config.consumes && { consumes: [...config.consumes] }),
    hash: configHash({ queue: config.queue, enqueues, routes }),
  };
}

/**
 * The worker's side of a comparison: its handlers, the families it consumes and, when known, the
 * shard counts whose queues it drains now (its QUEUE_SHARDS and every count recorded).
 */
export type WorkerSettings = Pick<Required<RecordedConfig>, 'handles' | 'consumes'> & {
  drains?: readonly number[];
};

/** One rule the live receivers and a worker must satisfy together: a problem, or undefined. */
type ConfigCheck = (worker: WorkerSettings, receivers: readonly RecordedConfig[]) => string | undefined;

const listed = (items: readonly string[], most = 6) =>
  items.length > most ? `${items.slice(0, most).join(', ')} and ${items.length - most} more` : items.join(', ');

/** Catalog order (unknown types last): the message reads like ENQUEUE_EVENTS. */
const byCatalog = (a: string, b: string) =>
  (isEventType(a) ? EVENT_TYPES.indexOf(a) : EVENT_TYPES.length) -
  (isEventType(b) ? EVENT_TYPES.indexOf(b) : EVENT_TYPES.length);

/**
 * Event types a live receiver queues that this worker has no handler for: their jobs wait (a family
 * the worker does not consume) or fail for good here (a family it consumes).
 */
const unprocessedTypes: ConfigCheck = (worker, receivers) => {
  const handled = new Set(worker.handles);
  const senders = new Map<string, Set<string>>();
  for (const receiver of receivers) {
    for (const type of receiver.enqueues) {
      if (handled.has(type)) continue;
      senders.set(type, (senders.get(type) ?? new Set()).add(receiver.instance));
    }
  }
  if (senders.size === 0) return undefined;
  const types = [...senders.keys()].sort(byCatalog);
  const instances = new Set([...senders.values()].flatMap((set) => [...set]));
  const familyOf = (type: string): string | undefined => (isEventType(type) ? EVENT_CATALOG[type].family : undefined);
  const waiting = [...new Set(types.map(familyOf))].filter(
    (family): family is string => family !== undefined && !worker.consumes.includes(family),
  );
  const failing = types.filter((type) => {
    const family = familyOf(type);
    return family !== undefined && worker.consumes.includes(family);
  });
  const unknown = types.filter((type) => familyOf(type) === undefined);
  return (
    `${instances.size} of ${receivers.length} live receivers (${listed([...instances], 3)}) queue ` +
    `${listed(types)}, which this worker has no handler for` +
    (waiting.length > 0 ? `; it does not consume ${listed(waiting)}, whose jobs wait for a worker that does` : '') +
    (failing.length > 0 ? `; it would fail ${listed(failing)} for good` : '') +
    (unknown.length > 0 ? `; ${listed(unknown)} are unknown to this version` : '') +
    ': give the receivers and the workers the same ENQUEUE_EVENTS and FORWARD_ROUTES'
  );
};

/**
 * Receivers that queue into a shard count (QUEUE_SHARDS) whose queues this worker does not drain:
 * their jobs wait. A worker drains every count a receiver recorded, looked for every minute, so
 * this lasts only that long, unless the count could not be taken up (a sharded Redis Cluster keeps
 * one count for good: the apps refuse to start with another).
 */
const undrainedShards: ConfigCheck = (worker, receivers) => {
  if (worker.drains === undefined) return undefined;
  const drained = new Set(worker.drains);
  const undrained = receivers.filter((receiver) => !drained.has(receiver.queue.shards ?? 1));
  if (undrained.length === 0) return undefined;
  const counts = [...new Set(undrained.map((receiver) => receiver.queue.shards ?? 1))].sort((a, b) => a - b);
  return (
    `${undrained.length} of ${receivers.length} live receivers (${listed(
      undrained.map((receiver) => receiver.instance),
      3,
    )}) queue with QUEUE_SHARDS=${counts.join(', ')}, whose queues this worker does not drain ` +
    `(it drains ${[...drained].sort((a, b) => a - b).join(', ')}): give every app the same QUEUE_SHARDS`
  );
};

/** Every rule the receivers and the workers must satisfy together. */
const CONFIG_CHECKS: readonly ConfigCheck[] = [unprocessedTypes, undrainedShards];

/**
 * What the live receivers' configurations ask of this worker that it cannot do, one problem per
 * rule broken; none when they agree (or when no receiver is live).
 */
export function configMismatches(worker: WorkerSettings, receivers: readonly RecordedConfig[]): string[] {
  return CONFIG_CHECKS.map((check) => check(worker, receivers)).filter((problem) => problem !== undefined);
}
