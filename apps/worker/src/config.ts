import { Webhook } from 'standardwebhooks';
import { z } from 'zod';

const wholeNumber = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce
    .number({ error: 'must be a whole number' })
    .int({ error: 'must be a whole number' })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` });

/** Empty strings count as unset: `FOO=` in an env file should not mean "the empty value". */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === '' ? undefined : value), schema.optional());

const envSchema = z
  .object({
    // The Redis holding the queues and the customer store.
    REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\/.+/, { error: 'must be a redis:// or rediss:// URL' })
      .default('redis://127.0.0.1:6379'),
    // BullMQ key prefix; must match the receiver's.
    QUEUE_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_{}.-]+$/, { error: 'may hold letters, digits, "_", "-", ".", "{", "}" only' })
      .default('bull'),
    // Jobs processed at once per queue in this process (they mostly wait on the network).
    WORKER_CONCURRENCY: wholeNumber(1, 1000).default(32),
    // Health (and, later, metrics) listener of the worker.
    WORKER_METRICS_PORT: wholeNumber(0, 65_535).default(9464),
    WORKER_METRICS_HOST: z.string().min(1).default('0.0.0.0'),
    // Your "provision this customer" service; unset = store only.
    CUSTOMER_FORWARD_URL: optional(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' })),
    // Standard Webhooks secret (`whsec_…`) the forwards are signed with.
    CUSTOMER_FORWARD_SECRET: optional(z.string()),
    CUSTOMER_FORWARD_TIMEOUT_MS: wholeNumber(100, 120_000).default(10_000),
    // Key prefix of the customer store and the processed / forwarded marks.
    STORE_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_{}.:-]+$/, { error: 'may hold letters, digits and "_-.:{}" only' })
      .default('fpstore'),
    // How long a processed / forwarded mark is kept (a replay within it never applies twice).
    PROCESSED_TTL_SECONDS: wholeNumber(3600).default(7 * 24 * 3600),
    // A job's lock lives this long without renewal; a crashed worker's jobs are retried after it.
    WORKER_LOCK_DURATION_MS: wholeNumber(1000).default(30_000),
    // How often stalled jobs (locks of dead workers) are looked for.
    WORKER_STALLED_INTERVAL_MS: wholeNumber(500).default(30_000),
    // A job may stall this often (worker crashes) before it fails for good.
    WORKER_MAX_STALLED_COUNT: wholeNumber(0, 100).default(2),
    // Longest wait for active jobs at shutdown; jobs still running then are retried elsewhere.
    SHUTDOWN_TIMEOUT_MS: wholeNumber(100).default(25_000),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .superRefine((env, ctx) => {
    if (env.CUSTOMER_FORWARD_URL !== undefined && env.CUSTOMER_FORWARD_SECRET === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['CUSTOMER_FORWARD_SECRET'],
        message: 'is required with CUSTOMER_FORWARD_URL (forwards are always signed)',
      });
    }
    if (env.CUSTOMER_FORWARD_SECRET !== undefined) {
      let valid = env.CUSTOMER_FORWARD_SECRET.startsWith('whsec_');
      try {
        new Webhook(env.CUSTOMER_FORWARD_SECRET);
      } catch {
        valid = false;
      }
      if (!valid) {
        ctx.addIssue({
          code: 'custom',
          path: ['CUSTOMER_FORWARD_SECRET'],
          message: 'must be "whsec_" followed by base64 (e.g. echo "whsec_$(openssl rand -base64 24)")',
        });
      }
    }
  });

export interface Config {
  redis: { url: string };
  queue: { prefix: string };
  worker: {
    concurrency: number;
    lockDurationMs: number;
    stalledIntervalMs: number;
    maxStalledCount: number;
  };
  health: { port: number; host: string };
  forward: { url: string; secret: string; timeoutMs: number } | undefined;
  store: { prefix: string; processedTtlSeconds: number };
  shutdownTimeoutMs: number;
  logLevel: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads the configuration once, at start. Throws a ConfigError naming every wrong variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  const e = parsed.data;
  return {
    redis: { url: e.REDIS_URL },
    queue: { prefix: e.QUEUE_PREFIX },
    worker: {
      concurrency: e.WORKER_CONCURRENCY,
      lockDurationMs: e.WORKER_LOCK_DURATION_MS,
      stalledIntervalMs: e.WORKER_STALLED_INTERVAL_MS,
      maxStalledCount: e.WORKER_MAX_STALLED_COUNT,
    },
    health: { port: e.WORKER_METRICS_PORT, host: e.WORKER_METRICS_HOST },
    forward:
      e.CUSTOMER_FORWARD_URL !== undefined && e.CUSTOMER_FORWARD_SECRET !== undefined
        ? { url: e.CUSTOMER_FORWARD_URL, secret: e.CUSTOMER_FORWARD_SECRET, timeoutMs: e.CUSTOMER_FORWARD_TIMEOUT_MS }
        : undefined,
    store: { prefix: e.STORE_PREFIX, processedTtlSeconds: e.PROCESSED_TTL_SECONDS },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
  };
}
