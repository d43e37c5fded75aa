import {
  compileEventFilter,
  EVENT_TYPES,
  type EventType,
  type ForwardRoute,
  familyOf,
  parseForwardRoutes,
  routeFor,
  unprocessedProblem,
} from '@flexprice/contracts';
import {
  ConfigError,
  checkAlias,
  checkRedisEnv,
  checkSecretList,
  duration,
  durationIn,
  hasUserinfo,
  httpUrl,
  listOf,
  logLevel,
  optional,
  type PrefixDefaults,
  parseEnv,
  QUEUE_PREFIX_DEFAULTS,
  type RedisTarget,
  type ReplicaWaitSettings,
  redisEnv,
  redisTargetOf,
  redisWaitEnv,
  refusingPlaceholders,
  replicaWaitOf,
  resolvePrefix,
  wholeNumber,
} from '@flexprice/runtime';
import { z } from 'zod';

export { ConfigError };

/** Flexprice Cloud's API (the SDK's server URL, `/v1` included). */
export const FLEXPRICE_CLOUD_API = 'https://us.api.flexprice.io/v1';

/** The store's Lua script touches a customer's record, its index and the marks: one slot in a cluster. */
export const STORE_PREFIX_DEFAULTS: PrefixDefaults = {
  standalone: 'fpstore',
  cluster: '{fpstore}',
  sharded: 'fpstore',
};

const envSchema = z
  .object({
    // The Redis holding the queues and the customer store (REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS).
    ...redisEnv,
    // Replicas that must hold a version's store write before it is forwarded (WAIT).
    ...redisWaitEnv,
    // Jobs processed at once per queue in this process (they mostly wait on the network).
    WORKER_CONCURRENCY: wholeNumber(1, 1000).default(32),
    // The worker's ops listener: /healthz, /readyz and /metrics (the worker answers nothing else).
    WORKER_METRICS_PORT: wholeNumber(0, 65_535).default(9464),
    WORKER_METRICS_HOST: z.string().min(1).default('0.0.0.0'),
    // Which event types the receivers queue (the same value as theirs): the worker consumes every
    // family among them, and refuses to start when one has neither a built-in handler nor a route.
    ENQUEUE_EVENTS: z.string().default('customer.*'),
    // Where queued events are forwarded: `pattern=url` pairs, space- or comma-separated, the first
    // match wins; `customer.*=<url>` is the customer route (your "provision this customer" service).
    FORWARD_ROUTES: optional(z.string()),
    // Alias: the customer route's older spelling, read as a `customer.*=<url>` route ahead of FORWARD_ROUTES.
    CUSTOMER_FORWARD_URL: optional(
      httpUrl('remove it (the target authenticates forwards by their signature, FORWARD_SECRET)'),
    ),
    // Standard Webhooks secret(s) (`whsec_…`, several while rotating) every forward is signed with.
    FORWARD_SECRET: optional(z.string()),
    // Alias: FORWARD_SECRET's older name, from when it signed the customer route only.
    CUSTOMER_FORWARD_SECRET: optional(z.string()),
    // A forward without an answer by then is retried (its entity's forward lock lasts this plus 2 s).
    FORWARD_TIMEOUT_MS: optional(durationIn('ms', 100, 120_000)),
    // Alias: FORWARD_TIMEOUT_MS's older name, from when it timed the customer route only.
    CUSTOMER_FORWARD_TIMEOUT_MS: optional(durationIn('ms', 100, 120_000)),
    // How long the version marks of forwarded entities (invoices, subscriptions, …) are kept after
    // their last event: a replay older than that is forwarded without the order check.
    ENTITY_MARK_TTL_SECONDS: durationIn('s', 3600).default(30 * 24 * 3600),
    // Flexprice's API key (`x-api-key`): with it, every job of an API-backed family (customers,
    // invoices, …) reads its entity's current state from the API (the webhook is the notification).
    // Unset: webhook-only.
    FLEXPRICE_API_KEY: optional(
      refusingPlaceholders(
        z.string().min(8, { error: 'must be at least 8 characters' }),
        'create a key in Flexprice (Developers, API keys) in the environment this deployment receives',
      ),
    ),
    // The API's server URL, `/v1` included: the cloud's by default; self-hosted, your API host + /v1.
    FLEXPRICE_API_URL: httpUrl('the API authenticates with FLEXPRICE_API_KEY').default(FLEXPRICE_CLOUD_API),
    // Longest wait for one API answer; a slower one is retried with the job's backoff.
    FLEXPRICE_API_TIMEOUT_MS: durationIn('ms', 100, 60_000).default(5_000),
    // A 404 is taken as "gone" only when a second read of the job, at least this much later, is a
    // 404 too: a gateway during a deploy or a replica behind answers 404 for an entity that exists.
    FLEXPRICE_API_NOT_FOUND_CONFIRM_MS: durationIn('ms', 1_000, 3_600_000).default(5_000),
    // How often the reconciler reads every entity changed since its last run (`15m`, `1h`), for
    // every API-backed family this deployment queues; it heals webhooks Flexprice never delivered.
    // Unset: only `pnpm sync` runs it.
    SYNC_INTERVAL: optional(duration(10_000)),
    // The older name of SYNC_INTERVAL (when only customers were synced).
    CUSTOMER_SYNC_INTERVAL: optional(duration(10_000)),
    // Key prefix of the customer store (records, external-id index, forward locks).
    STORE_PREFIX: optional(
      z.string().regex(/^[A-Za-z0-9_{}.:-]+$/, { error: 'may hold letters, digits and "_-.:{}" only' }),
    ),
    // A job's lock lives this long without renewal; a crashed worker's jobs are retried after it.
    WORKER_LOCK_DURATION_MS: durationIn('ms', 1000).default(30_000),
    // How often stalled jobs (locks of dead workers) are looked for.
    WORKER_STALLED_INTERVAL_MS: durationIn('ms', 500).default(30_000),
    // A job may stall this often (worker crashes) before it fails for good; 0 would dead-letter
    // the jobs of a worker that died instead of running them on another.
    WORKER_MAX_STALLED_COUNT: wholeNumber(
      1,
      100,
      "0 dead-letters a crashed worker's jobs instead of running them on another worker",
    ).default(2),
    // Longest wait for active jobs at shutdown; jobs still running then are retried elsewhere.
    SHUTDOWN_TIMEOUT_MS: durationIn('ms', 100).default(25_000),
    // The delivery-pin window: a delivery's (idempotency key's) first version is remembered this
    // long, so that a redelivery within it (a Svix resend after the receiver's dedupe window) keeps
    // the original acceptance time, and old content never passes for new.
    DELIVERY_PIN_TTL: optional(duration(60_000)),
    // Alias: DELIVERY_PIN_TTL's older name (it said "processed"; it is the pin's window), in seconds.
    PROCESSED_TTL_SECONDS: optional(durationIn('s', 60)),
    LOG_LEVEL: logLevel,
  })
  .superRefine((env, ctx) => {
    checkRedisEnv(env, ctx, [
      { variable: 'QUEUE_PREFIX', value: env.QUEUE_PREFIX, defaults: QUEUE_PREFIX_DEFAULTS },
      { variable: 'STORE_PREFIX', value: env.STORE_PREFIX, defaults: STORE_PREFIX_DEFAULTS },
    ]);
    replicaWaitOf(env, redisTargetOf(env), ctx);
    const syncInterval = checkAlias(
      ctx,
      ['SYNC_INTERVAL', env.SYNC_INTERVAL],
      ['CUSTOMER_SYNC_INTERVAL', env.CUSTOMER_SYNC_INTERVAL],
    );
    if (syncInterval !== undefined && env.FLEXPRICE_API_KEY === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: [env.SYNC_INTERVAL === undefined ? 'CUSTOMER_SYNC_INTERVAL' : 'SYNC_INTERVAL'],
        message: 'needs FLEXPRICE_API_KEY (the reconciler reads the entities from Flexprice)',
      });
    }
    forwardingOf(env, ctx);
    checkAlias(
      ctx,
      ['DELIVERY_PIN_TTL', env.DELIVERY_PIN_TTL],
      ['PROCESSED_TTL_SECONDS', secondsToMs(env.PROCESSED_TTL_SECONDS)],
    );
    const routing = routingOf(env);
    for (const [variable, message] of routing.problems) ctx.addIssue({ code: 'custom', path: [variable], message });
  });

const secondsToMs = (seconds: number | undefined) => (seconds === undefined ? undefined : seconds * 1000);

const sameSecrets = (a: string, b: string) => listOf(a).sort().join(' ') === listOf(b).sort().join(' ');

/**
 * How every forward is signed and timed: FORWARD_SECRET and FORWARD_TIMEOUT_MS, or their older
 * names from when they served the customer route only (aliases: both set to different values is
 * refused). One secret list for all routes: a target verifies the signature of its own secret among
 * them (Standard Webhooks), so a deployment that signed its customer route with one secret and its
 * other routes with another lists both in FORWARD_SECRET.
 */
function forwardingOf(
  env: {
    FORWARD_ROUTES?: string | undefined;
    CUSTOMER_FORWARD_URL?: string | undefined;
    FORWARD_SECRET?: string | undefined;
    CUSTOMER_FORWARD_SECRET?: string | undefined;
    FORWARD_TIMEOUT_MS?: number | undefined;
    CUSTOMER_FORWARD_TIMEOUT_MS?: number | undefined;
  },
  ctx?: z.RefinementCtx,
): { secrets: string[]; timeoutMs: number } {
  const secrets = env.FORWARD_SECRET ?? env.CUSTOMER_FORWARD_SECRET;
  const timeoutMs = env.FORWARD_TIMEOUT_MS ?? env.CUSTOMER_FORWARD_TIMEOUT_MS ?? 10_000;
  if (ctx) {
    checkAlias(ctx, ['FORWARD_SECRET', env.FORWARD_SECRET], ['CUSTOMER_FORWARD_SECRET', env.CUSTOMER_FORWARD_SECRET], {
      equal: sameSecrets,
      as: 'its alias',
    });
    checkAlias(
      ctx,
      ['FORWARD_TIMEOUT_MS', env.FORWARD_TIMEOUT_MS],
      ['CUSTOMER_FORWARD_TIMEOUT_MS', env.CUSTOMER_FORWARD_TIMEOUT_MS],
      { as: 'its alias' },
    );
    // Forwards are always signed. Each spelling is checked under its own name (the one to fix).
    const hint = ' (make one with: echo "whsec_$(openssl rand -base64 24)")';
    const routedBy = [
      ...(env.FORWARD_ROUTES === undefined ? [] : ['FORWARD_ROUTES']),
      ...(env.CUSTOMER_FORWARD_URL === undefined ? [] : ['CUSTOMER_FORWARD_URL']),
    ];
    checkSecretList(ctx, 'FORWARD_SECRET', env.FORWARD_SECRET, {
      requiredWith: env.CUSTOMER_FORWARD_SECRET === undefined ? routedBy[0] : undefined,
      hint,
    });
    checkSecretList(ctx, 'CUSTOMER_FORWARD_SECRET', env.CUSTOMER_FORWARD_SECRET, { hint });
  }
  return { secrets: listOf(secrets), timeoutMs };
}

interface Env {
  ENQUEUE_EVENTS?: string | undefined;
  CUSTOMER_FORWARD_URL?: string | undefined;
  FORWARD_ROUTES?: string | undefined;
}

/** The customer route's pattern: what CUSTOMER_FORWARD_URL (its alias) stands for. */
const CUSTOMER_ROUTE = 'customer.*';

/**
 * What is queued and where it goes: ENQUEUE_EVENTS, then FORWARD_ROUTES (CUSTOMER_FORWARD_URL, the
 * customer route's alias, as a `customer.*=<url>` route ahead of them), with every problem found
 * on the way.
 */
function routingOf(env: Env): {
  enqueued: EventType[];
  routes: ForwardRoute[];
  problems: [variable: string, message: string][];
} {
  const problems: [string, string][] = [];
  const filter = compileEventFilter(listOf(env.ENQUEUE_EVENTS ?? 'customer.*'));
  if (!filter.ok) {
    problems.push([
      'ENQUEUE_EVENTS',
      `${filter.unmatched.map((p) => `"${p}"`).join(', ')} match no Flexprice event type`,
    ]);
  }
  // (A CUSTOMER_FORWARD_URL that is not http(s), or carries a password, is reported by its own check.)
  const customerUrl = env.CUSTOMER_FORWARD_URL;
  const customerRoute =
    customerUrl === undefined || !/^https?:\/\//i.test(customerUrl) || hasUserinfo(customerUrl)
      ? []
      : [{ pattern: CUSTOMER_ROUTE, url: customerUrl }];
  // The alias and FORWARD_ROUTES' own customer.* route: the same URL is one route, another is refused.
  let forwardRoutes = env.FORWARD_ROUTES;
  if (customerUrl !== undefined && forwardRoutes !== undefined) {
    const entries = listOf(forwardRoutes);
    const own = entries.filter((entry) => entry.startsWith(`${CUSTOMER_ROUTE}=`));
    if (own.some((entry) => entry !== `${CUSTOMER_ROUTE}=${customerUrl}`)) {
      problems.push([
        'FORWARD_ROUTES',
        `its ${CUSTOMER_ROUTE} route and CUSTOMER_FORWARD_URL (its alias) are both set, to different URLs: ` +
          `set FORWARD_ROUTES only (${CUSTOMER_ROUTE}=<url> first)`,
      ]);
    }
    forwardRoutes = entries.filter((entry) => !own.includes(entry)).join(' ');
  }
  const parsed = parseForwardRoutes(forwardRoutes, customerRoute);
  if (!parsed.ok) for (const problem of parsed.problems) problems.push(['FORWARD_ROUTES', problem]);
  const routes = parsed.ok ? parsed.routes : [];
  const enqueued = filter.ok ? filter.selected : [];
  // (Routes that do not parse are reported above; what they would have processed is not "unprocessed".)
  const problem = parsed.ok ? unprocessedProblem(enqueued, routes) : undefined;
  if (problem !== undefined) problems.push(['ENQUEUE_EVENTS', problem]);
  // The customer store orders forwards per customer, against the state it stores: one target for
  // all its events, or none (a customer.updated stored unforwarded would make a customer.created
  // waiting for its retry stale, and it would never reach the target).
  const customerUrls = EVENT_TYPES.filter((type) => familyOf(type) === 'customer').map(
    (type) => routeFor(routes, type)?.url,
  );
  const customerTargets = new Set(customerUrls.filter((url) => url !== undefined));
  if (customerTargets.size > 1 || (customerTargets.size === 1 && customerUrls.includes(undefined))) {
    problems.push([
      'FORWARD_ROUTES',
      'routes some customer events, or routes them to several URLs; customer events are forwarded in order per customer, ' +
        'all of them to one target (customer.*=<url>) or none',
    ]);
  }
  return { enqueued, routes, problems };
}

/** Every variable this app reads, for the deployment files' checks. */
export const ENV_VARIABLES: readonly string[] = Object.keys(envSchema.shape);

export interface Config {
  redis: RedisTarget;
  /** REDIS_WAIT_REPLICAS / REDIS_WAIT_TIMEOUT_MS: a version is forwarded once that many replicas hold it. */
  redisWait: ReplicaWaitSettings;
  queue: { prefix: string; shards: number };
  worker: {
    concurrency: number;
    lockDurationMs: number;
    stalledIntervalMs: number;
    maxStalledCount: number;
  };
  health: { port: number; host: string };
  /** The event types the receivers queue (ENQUEUE_EVENTS): the worker consumes their families. */
  enqueueEvents: readonly EventType[];
  /** Where events are forwarded (FORWARD_ROUTES, CUSTOMER_FORWARD_URL's route first); first match wins. */
  routes: ForwardRoute[];
  /** How every forward is signed and how long it may take (FORWARD_SECRET, FORWARD_TIMEOUT_MS). */
  forward: { secrets: string[]; timeoutMs: number };
  /** How long the version marks of forwarded entities live after their last event. */
  entityMarkTtlSeconds: number;
  /** Flexprice's API; unset: webhook-only. */
  api: { url: string; key: string; timeoutMs: number; notFoundConfirmMs: number } | undefined;
  /** The scheduled reconciler; unset: off. */
  sync: { intervalMs: number } | undefined;
  /**
   * STORE_PREFIX; DELIVERY_PIN_TTL: how long a delivery's first version is remembered; `layout`:
   * QUEUE_SHARDS and the Redis mode, which say where an entity's keys live (contracts' shards.ts).
   */
  store: { prefix: string; deliveryPinTtlSeconds: number; layout: { shards: number; cluster: boolean } };
  shutdownTimeoutMs: number;
  logLevel: string;
}

/** Reads the configuration once, at start. Throws a ConfigError naming every wrong variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const e = parseEnv(envSchema, env);
  const redis = redisTargetOf(e);
  const routing = routingOf(e);
  return {
    redis,
    redisWait: replicaWaitOf(e, redis),
    queue: {
      prefix: resolvePrefix(redis, e.QUEUE_PREFIX, QUEUE_PREFIX_DEFAULTS, e.QUEUE_SHARDS),
      shards: e.QUEUE_SHARDS,
    },
    worker: {
      concurrency: e.WORKER_CONCURRENCY,
      lockDurationMs: e.WORKER_LOCK_DURATION_MS,
      stalledIntervalMs: e.WORKER_STALLED_INTERVAL_MS,
      maxStalledCount: e.WORKER_MAX_STALLED_COUNT,
    },
    health: { port: e.WORKER_METRICS_PORT, host: e.WORKER_METRICS_HOST },
    enqueueEvents: routing.enqueued,
    routes: routing.routes,
    forward: forwardingOf(e),
    entityMarkTtlSeconds: e.ENTITY_MARK_TTL_SECONDS,
    api:
      e.FLEXPRICE_API_KEY === undefined
        ? undefined
        : {
            url: e.FLEXPRICE_API_URL,
            key: e.FLEXPRICE_API_KEY,
            timeoutMs: e.FLEXPRICE_API_TIMEOUT_MS,
            notFoundConfirmMs: e.FLEXPRICE_API_NOT_FOUND_CONFIRM_MS,
          },
    sync: (() => {
      const intervalMs = e.SYNC_INTERVAL ?? e.CUSTOMER_SYNC_INTERVAL;
      return intervalMs === undefined ? undefined : { intervalMs };
    })(),
    store: {
      prefix: resolvePrefix(redis, e.STORE_PREFIX, STORE_PREFIX_DEFAULTS, e.QUEUE_SHARDS),
      layout: { shards: e.QUEUE_SHARDS, cluster: redis.mode === 'cluster' },
      deliveryPinTtlSeconds: Math.ceil(
        (e.DELIVERY_PIN_TTL ?? secondsToMs(e.PROCESSED_TTL_SECONDS) ?? 7 * 86_400_000) / 1000,
      ),
    },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
  };
}
