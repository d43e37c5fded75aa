import { TEST_OTHER_SECRET, TEST_SECRET } from '@flexprice/testing';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const SECRET = TEST_OTHER_SECRET;
const OTHER_SECRET = TEST_SECRET;

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
      enqueueEvents: ['customer.created', 'customer.updated', 'customer.deleted'],
      routes: [],
      entityMarkTtlSeconds: 30 * 24 * 3600,
      store: { prefix: 'fpstore', processedTtlSeconds: 7 * 24 * 3600 },
      shutdownTimeoutMs: 25_000,
    });
  });

  it('forwards with a signing secret and a 10 s timeout by default', () => {
    const config = loadConfig({
      CUSTOMER_FORWARD_URL: 'https://provision.internal/hooks',
      CUSTOMER_FORWARD_SECRET: SECRET,
    });
    expect(config.routes).toEqual([
      {
        pattern: 'customer.*',
        url: 'https://provision.internal/hooks',
        claims: ['customer.created', 'customer.updated', 'customer.deleted'],
        secrets: [SECRET],
        timeoutMs: 10_000,
      },
    ]);
  });

  it('routes events by FORWARD_ROUTES after the customer route, each signed with its own secrets', () => {
    const config = loadConfig({
      ENQUEUE_EVENTS: 'customer.*,invoice.*, wallet.created',
      CUSTOMER_FORWARD_URL: 'https://provision.internal/hooks',
      CUSTOMER_FORWARD_SECRET: SECRET,
      FORWARD_ROUTES: 'invoice.update.finalized=https://billing.internal/final *=https://rest.internal/all',
      FORWARD_SECRET: `${OTHER_SECRET} ${SECRET}`,
      FORWARD_TIMEOUT_MS: '3000',
    });
    expect(config.enqueueEvents).toHaveLength(3 + 6 + 1);
    expect(
      config.routes.map(({ pattern, url, claims, secrets, timeoutMs }) => [
        pattern,
        url,
        claims.length,
        secrets,
        timeoutMs,
      ]),
    ).toEqual([
      ['customer.*', 'https://provision.internal/hooks', 3, [SECRET], 10_000],
      ['invoice.update.finalized', 'https://billing.internal/final', 1, [OTHER_SECRET, SECRET], 3000],
      ['*', 'https://rest.internal/all', 53, [OTHER_SECRET, SECRET], 3000],
    ]);
  });

  it('refuses queued events that nothing processes, naming FORWARD_ROUTES', () => {
    const problems = problemsOf({
      ENQUEUE_EVENTS: 'customer.*,invoice.*',
      FORWARD_ROUTES: 'invoice.update=https://b.internal/',
      FORWARD_SECRET: SECRET,
    });
    expect(problems).toEqual([
      'ENQUEUE_EVENTS: queues invoice.update.finalized, invoice.update.payment, invoice.update.voided, ' +
        'invoice.payment.overdue, invoice.communication.triggered, which nothing processes: add a route to FORWARD_ROUTES ' +
        '(e.g. invoice.update.finalized=https://your-service/hooks) or leave them out of ENQUEUE_EVENTS',
    ]);
  });

  it.each([
    ['to two targets', 'customer.created=https://a.internal/ customer.*=https://b.internal/'],
    ['only in part', 'customer.created=https://a.internal/ invoice.*=https://b.internal/'],
  ])('refuses customer events routed %s (they are forwarded in order per customer, all or none)', (_how, routes) => {
    const problems = problemsOf({
      FORWARD_ROUTES: routes,
      FORWARD_SECRET: SECRET,
    });
    expect(problems).toEqual([
      expect.stringMatching(/^FORWARD_ROUTES: routes some customer events, or routes them to several URLs/),
    ]);
  });

  it.each([
    [{ CUSTOMER_FORWARD_URL: 'https://x.test/h' }, 'CUSTOMER_FORWARD_SECRET: is required with CUSTOMER_FORWARD_URL'],
    [
      { CUSTOMER_FORWARD_URL: 'ftp://x.test/h', CUSTOMER_FORWARD_SECRET: SECRET },
      'CUSTOMER_FORWARD_URL: must be an http(s) URL',
    ],
    [{ CUSTOMER_FORWARD_SECRET: 'plain-text' }, 'CUSTOMER_FORWARD_SECRET: secret #1 must start with "whsec_"'],
    [
      { CUSTOMER_FORWARD_SECRET: 'whsec_AA==' },
      'CUSTOMER_FORWARD_SECRET: secret #1 is a 1-byte key; at least 24 bytes',
    ],
    [{ STORE_PREFIX: '{}{x}', REDIS_CLUSTER_NODES: 'a:1' }, 'STORE_PREFIX: must carry a hash tag in cluster mode'],
    [{ WORKER_CONCURRENCY: '0' }, 'WORKER_CONCURRENCY: must be at least 1'],
    [
      { WORKER_MAX_STALLED_COUNT: '0' },
      "WORKER_MAX_STALLED_COUNT: must be at least 1: 0 dead-letters a crashed worker's jobs",
    ],
    [{ CUSTOMER_FORWARD_TIMEOUT_MS: 'ten' }, 'CUSTOMER_FORWARD_TIMEOUT_MS: must be a whole number'],
    [{ FORWARD_ROUTES: 'invoice.*=https://b.internal/' }, 'FORWARD_SECRET: is required with FORWARD_ROUTES'],
    [{ FORWARD_ROUTES: 'invoice.*', FORWARD_SECRET: SECRET }, 'FORWARD_ROUTES: "invoice.*" is not pattern=url'],
    [{ ENQUEUE_EVENTS: 'wallet.*' }, 'ENQUEUE_EVENTS: queues wallet.created, '],
    // fetch refused every forward to such a URL, and its error quoted the password (issue 20, item 4).
    [
      { CUSTOMER_FORWARD_URL: 'https://ops:plain-text@x.test/h', CUSTOMER_FORWARD_SECRET: SECRET },
      'CUSTOMER_FORWARD_URL: must not carry a user name or password (user:password@…): remove it',
    ],
    [
      {
        ENQUEUE_EVENTS: 'customer.*,invoice.*',
        FORWARD_ROUTES: 'invoice.*=https://ops:plain-text@b.internal/',
        FORWARD_SECRET: SECRET,
      },
      'FORWARD_ROUTES: invoice.*: its URL carries a user name or password',
    ],
    // .env.example's placeholders (issue 20, item 3).
    [
      {
        CUSTOMER_FORWARD_URL: 'https://x.test/h',
        CUSTOMER_FORWARD_SECRET: 'whsec_cmVwbGFjZS1tZS13aXRoLWEtZm9yd2FyZC1zZWNyZXQ=',
      },
      'CUSTOMER_FORWARD_SECRET: secret #1 is an example secret (from .env.example or public documentation)',
    ],
    [
      {
        ENQUEUE_EVENTS: 'customer.*,invoice.*',
        FORWARD_ROUTES: 'invoice.*=https://b.internal/',
        FORWARD_SECRET: `${SECRET} whsec_cmVwbGFjZS1tZS13aXRoLWEtcm91dGUtc2VjcmV0LTE=`,
      },
      'FORWARD_SECRET: secret #2 is an example secret',
    ],
    [
      { FLEXPRICE_API_KEY: 'replace-me-with-an-api-key-of-this-environment' },
      'FLEXPRICE_API_KEY: is an example value (a placeholder from .env.example or documentation): create a key',
    ],
    [
      { REDIS_PASSWORD: 'replace-me-with-the-redis-password', REDIS_CLUSTER_NODES: 'a:1' },
      'REDIS_PASSWORD: is an example value',
    ],
    [
      { FLEXPRICE_API_KEY: 'key-0123456789', FLEXPRICE_API_URL: 'https://ops:plain-text@api.internal/v1' },
      'FLEXPRICE_API_URL: must not carry a user name or password (user:password@…): the API authenticates with FLEXPRICE_API_KEY',
    ],
  ])('rejects %j', (env, expected) => {
    const problems = problemsOf(env);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(expected);
    expect(problems[0]).not.toContain('plain-text');
  });
});
