import {
  checkRedisEnv,
  checkTogether,
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
    ADMIN_HOST: z.string().min(1).default('0.0.0.0'),
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
  queue: { prefix: string };
  http: { port: number; host: string };
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
    queue: { prefix: resolvePrefix(redis, e.QUEUE_PREFIX, QUEUE_PREFIX_DEFAULTS) },
    http: { port: e.ADMIN_PORT, host: e.ADMIN_HOST },
    credentials:
      e.ADMIN_USERNAME !== undefined && e.ADMIN_PASSWORD !== undefined
        ? { username: e.ADMIN_USERNAME, password: e.ADMIN_PASSWORD }
        : undefined,
    readOnly: e.ADMIN_READ_ONLY ?? false,
    logLevel: e.LOG_LEVEL,
  };
}
