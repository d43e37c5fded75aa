import {
  compileEventFilter,
  type EventType,
  type ForwardRoute,
  parseForwardRoutes,
  shortestRetrySpanMs,
  unprocessedProblem,
} from '@flexprice/contracts';
import {
  ConfigError,
  checkRedisEnv,
  checkSecretList,
  checkTogether,
  durationIn,
  listOf,
  logLevel,
  optional,
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
import proxyAddr from 'proxy-addr';
import { z } from 'zod';
import type { BodyLimits } from './body.js';

export { ConfigError };

const optionalText = optional(z.string());

const HTTP_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** What Express would refuse in `trust proxy` (proxy-addr compiles it): addresses, CIDRs, `loopback`…. */
function trustedProxiesProblem(proxies: string[]): string | undefined {
  try {
    proxyAddr.compile(proxies);
    return undefined;
  } catch {
    return 'must be IP addresses, CIDR ranges or loopback, linklocal, uniquelocal, space- or comma-separated';
  }
}
/**
 * The shortest time a job's retries may span: a target (or Flexprice's API) down for a deploy or a
 * restart must not dead-letter the jobs that meet it.
 */
export const MIN_RETRY_SPAN_MS = 30_000;

/** Flexprice's deadline for an answer (its docs: 5 s); a 503 must reach it before it gives up. */
const SENDER_DEADLINE_MS = 5_000;

const envSchema = z
  .object({
    // Where the webhook port listens: it faces the internet (Flexprice must reach it).
    PORT: wholeNumber(1, 65_535).default(3000),
    HOST: z.string().min(1).default('0.0.0.0'),
    // /metrics and the detailed /readyz, off the webhook port so that they can stay off the internet;
    // 9465, beside the worker's 9464, so that both run on one host (pnpm start).
    RECEIVER_METRICS_PORT: wholeNumber(0, 65_535).default(9465),
    // Its interface: every one, as the worker's, so Prometheus on another host or container can scrape it.
    RECEIVER_METRICS_HOST: z.string().min(1).default('0.0.0.0'),
    // The Redis holding the queues (REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS); it must not evict keys.
    ...redisEnv,
    // Replicas that must hold a webhook's job before its 202 (WAIT), and how long to wait for them.
    ...redisWaitEnv,
    // Svix / Standard Webhooks signing secrets (`whsec_…`), several while rotating.
    FLEXPRICE_WEBHOOK_SECRET: optionalText,
    // Self-hosted Flexprice signs nothing: a static header it sends (webhook.tenants.<id>.headers).
    // .env.example's token is public: anyone could send webhooks with it.
    FLEXPRICE_WEBHOOK_AUTH_HEADER: optionalText,
    FLEXPRICE_WEBHOOK_AUTH_TOKEN: optional(
      refusingPlaceholders(
        z.string(),
        'set the header value Flexprice sends (webhook.tenants.<id>.headers), a long random one (openssl rand -hex 32)',
      ),
    ),
    // `none` accepts unauthenticated webhooks: for local experiments only.
    FLEXPRICE_WEBHOOK_AUTH: optional(z.enum(['none'], { error: 'may only be "none" (or unset)' })),
    // Accepted clock skew of a signature's timestamp, both ways (Standard Webhooks uses 5 minutes).
    FLEXPRICE_WEBHOOK_TOLERANCE_SECONDS: durationIn('s', 1, 3600).default(300),
    // Largest body accepted; Flexprice's invoices with many line items are the biggest.
    MAX_BODY_BYTES: wholeNumber(1024, 64 * 1024 * 1024).default(1024 * 1024),
    // Body bytes of all requests being read at once: forged signature headers pass every header check.
    BODY_BUDGET_BYTES: wholeNumber(1024, 16 * 1024 * 1024 * 1024).default(64 * 1024 * 1024),
    // A body is measured over stretches this long (nothing for one of them cuts it).
    BODY_RATE_WINDOW_MS: durationIn('ms', 100, 60_000).default(2000),
    // Each stretch must bring this much a second, else the request is cut: a trickle would hold its socket.
    BODY_MIN_BYTES_PER_SECOND: wholeNumber(0, 1024 * 1024 * 1024).default(4096),
    // Proxies whose X-Forwarded-For names the client (Express `trust proxy`); none by default.
    TRUSTED_PROXIES: optionalText,
    // Which event types are queued (patterns with `*`); the rest is acknowledged and ignored.
    ENQUEUE_EVENTS: z.string().default('customer.*'),
    // The workers' forward routes (`pattern=url`, read here only to refuse queuing what nothing
    // would process): every queued type needs a route, customer events aside.
    FORWARD_ROUTES: optionalText,
    // How long a delivery id / body hash is remembered; Svix retries for ~27 h, replays come later.
    DEDUPE_TTL_SECONDS: durationIn('s', 60).default(72 * 3600),
    // Tries per job before it lands in the failed (dead-letter) set; with JOB_BACKOFF_MS they must
    // span MIN_RETRY_SPAN_MS.
    JOB_ATTEMPTS: wholeNumber(1, 1000).default(10),
    // First retry delay; doubled on each retry, with jitter. 0 retried at once: a one-second outage
    // of a target dead-lettered its jobs.
    JOB_BACKOFF_MS: durationIn(
      'ms',
      100,
      Number.MAX_SAFE_INTEGER,
      'a shorter first delay retries a failing job at once',
    ).default(1000),
    // Completed jobs kept (newest first, a day at most); failed jobs are always kept.
    JOB_KEEP_COMPLETED: wholeNumber(0).default(0),
    // Longest wait for Redis to take a job before answering 503: below Flexprice's 5 s deadline,
    // or the sender has given up before it hears the 503.
    ENQUEUE_TIMEOUT_MS: durationIn('ms', 50, SENDER_DEADLINE_MS - 1_000).default(2000),
    // A request whose headers and body have not all arrived by then is cut off (slowloris).
    REQUEST_TIMEOUT_MS: durationIn('ms', 1000, 300_000).default(15_000),
    // Largest header section accepted (431 above): Flexprice's headers are well under 2 KiB.
    MAX_HEADER_BYTES: wholeNumber(1024, 64 * 1024).default(16 * 1024),
    // Open connections per process; more are refused at once, so memory stays bounded.
    MAX_CONNECTIONS: wholeNumber(1, 1_000_000).default(4096),
    // Longest graceful shutdown; in-flight requests finish first (above ENQUEUE_TIMEOUT_MS).
    SHUTDOWN_TIMEOUT_MS: durationIn('ms', 100).default(10_000),
    LOG_LEVEL: logLevel,
  })
  .superRefine((env, ctx) => {
    checkRedisEnv(env, ctx, [{ variable: 'QUEUE_PREFIX', value: env.QUEUE_PREFIX, defaults: QUEUE_PREFIX_DEFAULTS }]);
    const wait = replicaWaitOf(env, redisTargetOf(env), ctx);
    if (wait.replicas > 0 && wait.timeoutMs >= env.ENQUEUE_TIMEOUT_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_WAIT_TIMEOUT_MS'],
        message: `must be below ENQUEUE_TIMEOUT_MS (${env.ENQUEUE_TIMEOUT_MS}): the replicas are waited for within it`,
      });
    }
    const span = shortestRetrySpanMs(env.JOB_ATTEMPTS, env.JOB_BACKOFF_MS);
    if (span < MIN_RETRY_SPAN_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['JOB_ATTEMPTS'],
        message:
          `with JOB_BACKOFF_MS, spreads a job's tries over as little as ${span / 1000} s: a target down for ` +
          `longer than that (a deploy, a restart) would dead-letter every job that meets it; raise JOB_ATTEMPTS ` +
          `or JOB_BACKOFF_MS until they span at least ${MIN_RETRY_SPAN_MS / 1000} s (the defaults, 10 and 1000, span 255 s)`,
      });
    }
    // A request read before SIGTERM is answered first: its enqueue may take ENQUEUE_TIMEOUT_MS.
    if (env.SHUTDOWN_TIMEOUT_MS <= env.ENQUEUE_TIMEOUT_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['SHUTDOWN_TIMEOUT_MS'],
        message:
          `must be above ENQUEUE_TIMEOUT_MS (${env.ENQUEUE_TIMEOUT_MS}): a webhook being queued at shutdown ` +
          'would be cut off without an answer',
      });
    }
    const secrets = checkSecretList(ctx, 'FLEXPRICE_WEBHOOK_SECRET', env.FLEXPRICE_WEBHOOK_SECRET, {
      hint:
        "; copy your endpoint's signing secret from Flexprice's webhook portal (the Svix endpoint page); " +
        'for a local run, pnpm start makes one',
    });
    // A signed request stays valid for the tolerance on either side of its timestamp: a captured one
    // can be replayed until then, and only the dedupe mark recognises it.
    const replayWindow = 2 * env.FLEXPRICE_WEBHOOK_TOLERANCE_SECONDS;
    if (secrets.length > 0 && env.DEDUPE_TTL_SECONDS < replayWindow) {
      ctx.addIssue({
        code: 'custom',
        path: ['DEDUPE_TTL_SECONDS'],
        message:
          `must be at least ${replayWindow} (twice FLEXPRICE_WEBHOOK_TOLERANCE_SECONDS): a signed request ` +
          'captured on the way could otherwise be replayed as a new event once its mark expired',
      });
    }
    // One port would serve both: the metrics on the webhook port after all (or a start that fails).
    if (env.RECEIVER_METRICS_PORT === env.PORT) {
      ctx.addIssue({
        code: 'custom',
        path: ['RECEIVER_METRICS_PORT'],
        message: `must differ from PORT (${env.PORT}): the webhook port faces the internet, the metrics port must not`,
      });
    }
    if (env.BODY_BUDGET_BYTES < env.MAX_BODY_BYTES) {
      ctx.addIssue({ code: 'custom', path: ['BODY_BUDGET_BYTES'], message: 'must be at least MAX_BODY_BYTES' });
    }
    const proxies = trustedProxiesProblem(listOf(env.TRUSTED_PROXIES));
    if (proxies !== undefined) ctx.addIssue({ code: 'custom', path: ['TRUSTED_PROXIES'], message: proxies });
    const header = env.FLEXPRICE_WEBHOOK_AUTH_HEADER;
    const token = env.FLEXPRICE_WEBHOOK_AUTH_TOKEN;
    checkTogether(ctx, ['FLEXPRICE_WEBHOOK_AUTH_HEADER', header], ['FLEXPRICE_WEBHOOK_AUTH_TOKEN', token]);
    if (header !== undefined && !HTTP_TOKEN.test(header)) {
      ctx.addIssue({ code: 'custom', path: ['FLEXPRICE_WEBHOOK_AUTH_HEADER'], message: 'must be an HTTP header name' });
    }
    if (token !== undefined && token.length < 16) {
      ctx.addIssue({
        code: 'custom',
        path: ['FLEXPRICE_WEBHOOK_AUTH_TOKEN'],
        message: 'must be at least 16 characters (a guessable token is no authentication)',
      });
    }
    const filter = compileEventFilter(listOf(env.ENQUEUE_EVENTS));
    if (!filter.ok) {
      ctx.addIssue({
        code: 'custom',
        path: ['ENQUEUE_EVENTS'],
        message: `${filter.unmatched.map((p) => `"${p}"`).join(', ')} match no Flexprice event type`,
      });
    }
    // Acknowledging what no worker will process would lose it: the same check as the worker's.
    const routes = parseForwardRoutes(env.FORWARD_ROUTES);
    if (!routes.ok) {
      for (const message of routes.problems) ctx.addIssue({ code: 'custom', path: ['FORWARD_ROUTES'], message });
    }
    const unprocessed = filter.ok && routes.ok ? unprocessedProblem(filter.selected, routes.routes) : undefined;
    if (unprocessed !== undefined) ctx.addIssue({ code: 'custom', path: ['ENQUEUE_EVENTS'], message: unprocessed });
  });

/** Every variable this app reads, for the deployment files' checks. */
export const ENV_VARIABLES: readonly string[] = Object.keys(envSchema.shape);

export interface Config {
  http: {
    port: number;
    host: string;
    body: BodyLimits;
    /** TRUSTED_PROXIES: empty, none is trusted. */
    trustedProxies: string[];
    requestTimeoutMs: number;
    maxHeaderBytes: number;
    maxConnections: number;
  };
  /** RECEIVER_METRICS_*: the ops listener (/metrics, the detailed /readyz), never the webhook port. */
  metrics: { port: number; host: string };
  redis: RedisTarget;
  /** REDIS_WAIT_REPLICAS / REDIS_WAIT_TIMEOUT_MS: a 202 only once that many replicas hold the job. */
  redisWait: ReplicaWaitSettings;
  auth: {
    secrets: string[];
    staticHeader: { name: string; token: string } | undefined;
    /** No authentication at all: only when explicitly asked for with FLEXPRICE_WEBHOOK_AUTH=none. */
    disabled: boolean;
    toleranceSeconds: number;
  };
  queue: {
    prefix: string;
    /** QUEUE_SHARDS: queues per family. */
    shards: number;
    enqueueEvents: readonly EventType[];
    dedupeTtlSeconds: number;
    attempts: number;
    backoffMs: number;
    keepCompleted: number;
    enqueueTimeoutMs: number;
  };
  /**
   * FORWARD_ROUTES as the workers have them (the receiver forwards nothing): recorded in Redis,
   * patterns and claims only, for the workers to compare with theirs.
   */
  routes: ForwardRoute[];
  shutdownTimeoutMs: number;
  logLevel: string;
}

/** Reads the configuration once, at start. Throws a ConfigError naming every wrong variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const e = parseEnv(envSchema, env);
  const secrets = listOf(e.FLEXPRICE_WEBHOOK_SECRET);
  const staticHeader =
    e.FLEXPRICE_WEBHOOK_AUTH_HEADER !== undefined && e.FLEXPRICE_WEBHOOK_AUTH_TOKEN !== undefined
      ? { name: e.FLEXPRICE_WEBHOOK_AUTH_HEADER.toLowerCase(), token: e.FLEXPRICE_WEBHOOK_AUTH_TOKEN }
      : undefined;
  const disabled = e.FLEXPRICE_WEBHOOK_AUTH === 'none';
  if (secrets.length === 0 && staticHeader === undefined && !disabled) {
    throw new ConfigError([
      'No webhook authentication configured. Set FLEXPRICE_WEBHOOK_SECRET (Svix / Flexprice Cloud), or ' +
        'FLEXPRICE_WEBHOOK_AUTH_HEADER and FLEXPRICE_WEBHOOK_AUTH_TOKEN (self-hosted Flexprice), or ' +
        'FLEXPRICE_WEBHOOK_AUTH=none to accept unauthenticated webhooks (never in production).',
    ]);
  }
  const filter = compileEventFilter(listOf(e.ENQUEUE_EVENTS));
  const routes = parseForwardRoutes(e.FORWARD_ROUTES);
  const redis = redisTargetOf(e);
  return {
    http: {
      port: e.PORT,
      host: e.HOST,
      body: {
        maxBytes: e.MAX_BODY_BYTES,
        budgetBytes: e.BODY_BUDGET_BYTES,
        rateWindowMs: e.BODY_RATE_WINDOW_MS,
        minBytesPerSecond: e.BODY_MIN_BYTES_PER_SECOND,
      },
      trustedProxies: listOf(e.TRUSTED_PROXIES),
      requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
      maxHeaderBytes: e.MAX_HEADER_BYTES,
      maxConnections: e.MAX_CONNECTIONS,
    },
    metrics: { port: e.RECEIVER_METRICS_PORT, host: e.RECEIVER_METRICS_HOST },
    redis,
    redisWait: replicaWaitOf(e, redis),
    auth: { secrets, staticHeader, disabled, toleranceSeconds: e.FLEXPRICE_WEBHOOK_TOLERANCE_SECONDS },
    queue: {
      prefix: resolvePrefix(redis, e.QUEUE_PREFIX, QUEUE_PREFIX_DEFAULTS, e.QUEUE_SHARDS),
      shards: e.QUEUE_SHARDS,
      enqueueEvents: filter.ok ? filter.selected : [],
      dedupeTtlSeconds: e.DEDUPE_TTL_SECONDS,
      attempts: e.JOB_ATTEMPTS,
      backoffMs: e.JOB_BACKOFF_MS,
      keepCompleted: e.JOB_KEEP_COMPLETED,
      enqueueTimeoutMs: e.ENQUEUE_TIMEOUT_MS,
    },
    routes: routes.ok ? routes.routes : [],
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
  };
}
