import {
  checkRedisEnv,
  checkTogether,
  duration,
  flag,
  logLevel,
  optional,
  parseEnv,
  QUEUE_PREFIX_DEFAULTS,
  type RedisTarget,
  redisEnv,
  redisTargetOf,
  refusingPlaceholders,
  resolvePrefix,
  wholeNumber,
} from '@flexprice/runtime';
import { z } from 'zod';

const envSchema = z
  .object({
    ...redisEnv,
    // The admin listener: never the public webhook port.
    ADMIN_PORT: wholeNumber(1, 65_535).default(3001),
    // Loopback unless told otherwise: the dashboard can retry and delete jobs (compose sets 0.0.0.0 in its container).
    ADMIN_HOST: z.string().min(1).default('127.0.0.1'),
    // Basic auth; with either unset the dashboard does not start (it says so and exits 0).
    ADMIN_USERNAME: optional(z.string()),
    ADMIN_PASSWORD: optional(
      refusingPlaceholders(
        z.string().min(12, { error: 'must be at least 12 characters' }),
        'choose a long random one (openssl rand -base64 18): .env.example is public',
      ),
    ),
    // Look but do not touch: no retry, clean, promote or remove from the UI.
    ADMIN_READ_ONLY: optional(flag),
    // Failed logins a client may make per ADMIN_LOGIN_WINDOW before it gets 429s (guessing the password).
    ADMIN_LOGIN_ATTEMPTS: wholeNumber(1, 10_000).default(20),
    // The window failed logins are counted over, and how long a client that made too many waits.
    ADMIN_LOGIN_WINDOW: optional(duration(1_000)).default(15 * 60_000),
    LOG_LEVEL: logLevel,
  })
  .superRefine((env, ctx) => {
    checkRedisEnv(env, ctx, [{ variable: 'QUEUE_PREFIX', value: env.QUEUE_PREFIX, defaults: QUEUE_PREFIX_DEFAULTS }]);
    checkTogether(ctx, ['ADMIN_USERNAME', env.ADMIN_USERNAME], ['ADMIN_PASSWORD', env.ADMIN_PASSWORD]);
  });

/** Every variable this app reads, for the deployment files' checks. */
export const ENV_VARIABLES: readonly string[] = Object.keys(envSchema.shape);

export interface Config {
  redis: RedisTarget;
  queue: { prefix: string; shards: number };
  http: { port: number; host: string };
  /** ADMIN_LOGIN_ATTEMPTS failed logins per client per ADMIN_LOGIN_WINDOW (ms). */
  logins: { attempts: number; windowMs: number };
  /** Undefined: the dashboard is disabled. */
  credentials: { username: string; password: string } | undefined;
  readOnly: boolean;
  logLevel: string;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const e = parseEnv(envSchema, env);
  const redis = redisTargetOf(e);
  return {
    redis,
    queue: {
      prefix: resolvePrefix(redis, e.QUEUE_PREFIX, QUEUE_PREFIX_DEFAULTS, e.QUEUE_SHARDS),
      shards: e.QUEUE_SHARDS,
    },
    http: { port: e.ADMIN_PORT, host: e.ADMIN_HOST },
    logins: { attempts: e.ADMIN_LOGIN_ATTEMPTS, windowMs: e.ADMIN_LOGIN_WINDOW },
    credentials:
      e.ADMIN_USERNAME !== undefined && e.ADMIN_PASSWORD !== undefined
        ? { username: e.ADMIN_USERNAME, password: e.ADMIN_PASSWORD }
        : undefined,
    readOnly: e.ADMIN_READ_ONLY ?? false,
    logLevel: e.LOG_LEVEL,
  };
}
