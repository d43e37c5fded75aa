import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const SECRET = 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe('loadConfig (worker)', () => {
  it('applies the documented defaults; forwarding is off until a URL is given', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      redis: { url: 'redis://127.0.0.1:6379' },
      queue: { prefix: 'bull' },
      worker: { concurrency: 32, lockDurationMs: 30_000, stalledIntervalMs: 30_000, maxStalledCount: 2 },
      health: { port: 9464, host: '0.0.0.0' },
      forward: undefined,
      store: { prefix: 'fpstore', processedTtlSeconds: 7 * 24 * 3600 },
      shutdownTimeoutMs: 25_000,
    });
  });

  it('forwards with a signing secret and a 10 s timeout by default', () => {
    const config = loadConfig({
      CUSTOMER_FORWARD_URL: 'https://provision.internal/hooks',
      CUSTOMER_FORWARD_SECRET: SECRET,
    });
    expect(config.forward).toEqual({ url: 'https://provision.internal/hooks', secret: SECRET, timeoutMs: 10_000 });
  });

  it.each([
    [{ CUSTOMER_FORWARD_URL: 'https://x.test/h' }, 'CUSTOMER_FORWARD_SECRET: is required with CUSTOMER_FORWARD_URL'],
    [
      { CUSTOMER_FORWARD_URL: 'ftp://x.test/h', CUSTOMER_FORWARD_SECRET: SECRET },
      'CUSTOMER_FORWARD_URL: must be an http(s) URL',
    ],
    [{ CUSTOMER_FORWARD_SECRET: 'plain-text' }, 'CUSTOMER_FORWARD_SECRET: must start with "whsec_"'],
    [{ CUSTOMER_FORWARD_SECRET: 'whsec_AA==' }, 'CUSTOMER_FORWARD_SECRET: is a 1-byte key; at least 24 bytes'],
    [{ STORE_PREFIX: '{}{x}', REDIS_CLUSTER_NODES: 'a:1' }, 'STORE_PREFIX: must carry a hash tag in cluster mode'],
    [{ WORKER_CONCURRENCY: '0' }, 'WORKER_CONCURRENCY: must be at least 1'],
    [{ CUSTOMER_FORWARD_TIMEOUT_MS: 'ten' }, 'CUSTOMER_FORWARD_TIMEOUT_MS: must be a whole number'],
  ])('rejects %j', (env, expected) => {
    const problems = problemsOf(env);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(expected);
    expect(problems[0]).not.toContain('plain-text');
  });
});
