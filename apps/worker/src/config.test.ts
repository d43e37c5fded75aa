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
      forward: { secrets: [], timeoutMs: 10_000 },
      entityMarkTtlSeconds: 30 * 24 * 3600,
      store: { prefix: 'fpstore', deliveryPinTtlSeconds: 7 * 24 * 3600 },
      shutdownTimeoutMs: 25_000,
    });
  });

  it('forwards with a signing secret and a 10 s timeout by default; the customer route is a route like any other', () => {
    const config = loadConfig({
      FORWARD_ROUTES: 'customer.*=https://provision.internal/hooks',
      FORWARD_SECRET: SECRET,
    });
    expect(config.routes).toEqual([
      {
        pattern: 'customer.*',
        url: 'https://provision.internal/hooks',
        claims: ['customer.created', 'customer.updated', 'customer.deleted'],
      },
    ]);
    expect(config.forward).toEqual({ secrets: [SECRET], timeoutMs: 10_000 });
  });

  it('routes events by FORWARD_ROUTES, the first match winning, every route signed with FORWARD_SECRET', () => {
    const config = loadConfig({
      ENQUEUE_EVENTS: 'customer.*,invoice.*, wallet.created',
      FORWARD_ROUTES:
        'customer.*=https://provision.internal/hooks invoice.update.finalized=https://billing.internal/final *=https://rest.internal/all',
      FORWARD_SECRET: `${OTHER_SECRET} ${SECRET}`,
      FORWARD_TIMEOUT_MS: '3000',
    });
    expect(config.enqueueEvents).toHaveLength(3 + 6 + 1);
    expect(config.routes.map(({ pattern, url, claims }) => [pattern, url, claims.length])).toEqual([
      ['customer.*', 'https://provision.internal/hooks', 3],
      ['invoice.update.finalized', 'https://billing.internal/final', 1],
      ['*', 'https://rest.internal/all', 53],
    ]);
    expect(config.forward).toEqual({ secrets: [OTHER_SECRET, SECRET], timeoutMs: 3000 });
  });

  describe('the older spellings, aliases of the one vocabulary', () => {
    const NEW = {
      FORWARD_ROUTES: 'customer.*=https://provision.internal/hooks invoice.*=https://billing.internal/',
      FORWARD_SECRET: SECRET,
      FORWARD_TIMEOUT_MS: '3s',
      DELIVERY_PIN_TTL: '1h',
      SYNC_INTERVAL: '15m',
    };
    const OLD = {
      CUSTOMER_FORWARD_URL: 'https://provision.internal/hooks',
      FORWARD_ROUTES: 'invoice.*=https://billing.internal/',
      CUSTOMER_FORWARD_SECRET: SECRET,
      CUSTOMER_FORWARD_TIMEOUT_MS: '3000',
      PROCESSED_TTL_SECONDS: '3600',
      CUSTOMER_SYNC_INTERVAL: '15m',
    };
    const base = { ENQUEUE_EVENTS: 'customer.*,invoice.*', FLEXPRICE_API_KEY: 'key-0123456789' };

    it('each older name maps onto its new one: CUSTOMER_FORWARD_URL is a customer.* route placed first', () => {
      const config = loadConfig({ ...base, ...NEW });
      expect(loadConfig({ ...base, ...OLD })).toEqual(config);
      expect(config.routes.map(({ pattern }) => pattern)).toEqual(['customer.*', 'invoice.*']);
      expect(config).toMatchObject({
        forward: { secrets: [SECRET], timeoutMs: 3000 },
        store: { deliveryPinTtlSeconds: 3600 },
        sync: { intervalMs: 15 * 60_000 },
      });
      // The customer route's alias comes before every route of FORWARD_ROUTES, as it always did.
      const first = loadConfig({ ...base, ...OLD, FORWARD_ROUTES: '*=https://rest.internal/all', ENQUEUE_EVENTS: '*' });
      expect(first.routes.map(({ pattern, claims }) => [pattern, claims.length])).toEqual([
        ['customer.*', 3],
        ['*', 54],
      ]);
    });

    it('accepts both spellings set to the same value', () => {
      const both = loadConfig({
        ...base,
        ...NEW,
        ...OLD,
        FORWARD_ROUTES: NEW.FORWARD_ROUTES,
        // The same secrets, in another order and separator; the same durations, in another spelling.
        FORWARD_SECRET: `${OTHER_SECRET} ${SECRET}`,
        CUSTOMER_FORWARD_SECRET: `${SECRET},${OTHER_SECRET}`,
      });
      expect(both.routes.map(({ pattern }) => pattern)).toEqual(['customer.*', 'invoice.*']);
      expect(both.forward).toEqual({ secrets: [OTHER_SECRET, SECRET], timeoutMs: 3000 });
      expect(both.store.deliveryPinTtlSeconds).toBe(3600);
    });

    it.each([
      [
        { CUSTOMER_FORWARD_URL: 'https://other.internal/', FORWARD_ROUTES: NEW.FORWARD_ROUTES },
        'FORWARD_ROUTES: its customer.* route and CUSTOMER_FORWARD_URL (its alias) are both set, to different URLs: set FORWARD_ROUTES only',
      ],
      [
        { FORWARD_SECRET: SECRET, CUSTOMER_FORWARD_SECRET: OTHER_SECRET },
        'FORWARD_SECRET: and CUSTOMER_FORWARD_SECRET (its alias) are both set, to different values: set FORWARD_SECRET only',
      ],
      [
        { FORWARD_TIMEOUT_MS: '3s', CUSTOMER_FORWARD_TIMEOUT_MS: '5000' },
        'FORWARD_TIMEOUT_MS: and CUSTOMER_FORWARD_TIMEOUT_MS (its alias) are both set, to different values',
      ],
      [
        { DELIVERY_PIN_TTL: '1h', PROCESSED_TTL_SECONDS: '3601' },
        'DELIVERY_PIN_TTL: and PROCESSED_TTL_SECONDS (its older name) are both set, to different values',
      ],
      [
        { SYNC_INTERVAL: '15m', CUSTOMER_SYNC_INTERVAL: '1h' },
        'SYNC_INTERVAL: and CUSTOMER_SYNC_INTERVAL (its older name) are both set, to different values',
      ],
    ])('refuses both spellings set to different values: %j', (env, expected) => {
      const problems = problemsOf({ ...base, FORWARD_ROUTES: NEW.FORWARD_ROUTES, FORWARD_SECRET: SECRET, ...env });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toContain(expected);
    });
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
    [{ CUSTOMER_FORWARD_URL: 'https://x.test/h' }, 'FORWARD_SECRET: is required with CUSTOMER_FORWARD_URL'],
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
