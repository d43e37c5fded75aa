import { TEST_OTHER_SECRET, TEST_SECRET } from '@flexprice/testing';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const SECRET = TEST_SECRET;

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({ FLEXPRICE_WEBHOOK_SECRET: SECRET });
    expect(config.http).toEqual({
      port: 3000,
      host: '0.0.0.0',
      body: { maxBytes: 1024 * 1024, budgetBytes: 64 * 1024 * 1024, rateWindowMs: 2000, minBytesPerSecond: 4096 },
      trustedProxies: [],
      requestTimeoutMs: 15_000,
      maxHeaderBytes: 16 * 1024,
      maxConnections: 4096,
    });
    // Beside the worker's 9464, on every interface like it (Prometheus scrapes from elsewhere).
    expect(config.metrics).toEqual({ port: 9465, host: '0.0.0.0' });
    expect(config.redis).toEqual({ mode: 'standalone', url: 'redis://127.0.0.1:6379' });
    expect(config.queue).toEqual({
      prefix: 'bull',
      shards: 1,
      enqueueEvents: ['customer.created', 'customer.updated', 'customer.deleted'],
      dedupeTtlSeconds: 72 * 3600,
      attempts: 10,
      backoffMs: 1000,
      keepCompleted: 0,
      enqueueTimeoutMs: 2000,
    });
    expect(config.auth).toMatchObject({
      secrets: [SECRET],
      staticHeader: undefined,
      disabled: false,
      toleranceSeconds: 300,
    });
  });

  it('refuses to start without an authentication method, naming the ways to configure one', () => {
    const [problem] = problemsOf({});
    expect(problem).toContain('FLEXPRICE_WEBHOOK_SECRET');
    expect(problem).toContain('FLEXPRICE_WEBHOOK_AUTH=none');
  });

  it('runs unauthenticated only when asked explicitly', () => {
    expect(loadConfig({ FLEXPRICE_WEBHOOK_AUTH: 'none' }).auth.disabled).toBe(true);
    expect(problemsOf({ FLEXPRICE_WEBHOOK_AUTH: 'off' })).toEqual([
      'FLEXPRICE_WEBHOOK_AUTH: may only be "none" (or unset)',
    ]);
  });

  it('takes several secrets, space- or comma-separated, for rotation', () => {
    const other = TEST_OTHER_SECRET;
    expect(loadConfig({ FLEXPRICE_WEBHOOK_SECRET: `${SECRET}, ${other}` }).auth.secrets).toEqual([SECRET, other]);
  });

  it('names each wrong variable, without echoing secrets', () => {
    const problems = problemsOf({
      FLEXPRICE_WEBHOOK_SECRET: SECRET,
      PORT: 'http',
      JOB_ATTEMPTS: '0',
      REDIS_URL: 'localhost:6379',
      MAX_BODY_BYTES: '1.5',
    });
    expect(problems).toEqual([
      'PORT: must be a whole number',
      'REDIS_URL: must be a redis:// or rediss:// URL',
      'MAX_BODY_BYTES: must be a whole number',
      'JOB_ATTEMPTS: must be at least 1',
    ]);
  });

  it.each([
    [{ FLEXPRICE_WEBHOOK_SECRET: 'hunter2-plain' }, 'FLEXPRICE_WEBHOOK_SECRET: secret #1 must start with "whsec_"'],
    [
      { FLEXPRICE_WEBHOOK_SECRET: 'whsec_***' },
      'FLEXPRICE_WEBHOOK_SECRET: secret #1 is not "whsec_" followed by base64',
    ],
    [
      { FLEXPRICE_WEBHOOK_SECRET: `${SECRET} whsec_AA==` },
      'FLEXPRICE_WEBHOOK_SECRET: secret #2 is a 1-byte key; at least 24 bytes are needed',
    ],
    [
      { FLEXPRICE_WEBHOOK_SECRET: SECRET, DEDUPE_TTL_SECONDS: '599' },
      'DEDUPE_TTL_SECONDS: must be at least 600 (twice FLEXPRICE_WEBHOOK_TOLERANCE_SECONDS)',
    ],
    [
      { FLEXPRICE_WEBHOOK_SECRET: SECRET, DEDUPE_TTL_SECONDS: '60', FLEXPRICE_WEBHOOK_TOLERANCE_SECONDS: '31' },
      'DEDUPE_TTL_SECONDS: must be at least 62',
    ],
    [{ FLEXPRICE_WEBHOOK_AUTH_HEADER: 'X-Api-Key' }, 'FLEXPRICE_WEBHOOK_AUTH_TOKEN: FLEXPRICE_WEBHOOK_AUTH_HEADER and'],
    [
      { FLEXPRICE_WEBHOOK_AUTH_HEADER: 'X-Api-Key', FLEXPRICE_WEBHOOK_AUTH_TOKEN: 'short' },
      'FLEXPRICE_WEBHOOK_AUTH_TOKEN: must be at least 16 characters',
    ],
    [
      { FLEXPRICE_WEBHOOK_AUTH_HEADER: 'X Api Key', FLEXPRICE_WEBHOOK_AUTH_TOKEN: '0123456789abcdef' },
      'FLEXPRICE_WEBHOOK_AUTH_HEADER: must be an HTTP header name',
    ],
    [
      { FLEXPRICE_WEBHOOK_AUTH: 'none', ENQUEUE_EVENTS: 'customer.*,custmer.created' },
      'ENQUEUE_EVENTS: "custmer.created" match no Flexprice event type',
    ],
    [
      { FLEXPRICE_WEBHOOK_AUTH: 'none', ENQUEUE_EVENTS: 'customer.*,invoice.update.finalized' },
      'ENQUEUE_EVENTS: queues invoice.update.finalized, which nothing processes: add a route to FORWARD_ROUTES',
    ],
    [
      { FLEXPRICE_WEBHOOK_AUTH: 'none', ENQUEUE_EVENTS: 'invoice.*', FORWARD_ROUTES: 'invoice.*=ftp://billing' },
      'FORWARD_ROUTES: invoice.*: its URL is not an http(s) URL',
    ],
    [
      // The receiver reads the workers' routes: it refuses what they would refuse (issue 20, item 4).
      {
        FLEXPRICE_WEBHOOK_AUTH: 'none',
        ENQUEUE_EVENTS: 'customer.*,invoice.*',
        FORWARD_ROUTES: 'invoice.*=https://ops:hunter2@billing.internal/hooks',
      },
      'FORWARD_ROUTES: invoice.*: its URL carries a user name or password (user:password@…)',
    ],
  ])('rejects %j', (env, expected) => {
    const problems = problemsOf(env);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(expected);
    expect(problems[0]).not.toContain('hunter2');
  });

  describe('refuses the example secrets and tokens of .env.example and public docs (forged input got in)', () => {
    it.each([
      ['.env.example', 'whsec_cmVwbGFjZS1tZS13aXRoLXlvdXItc3ZpeC1zZWNyZXQ='],
      ["Svix's documentation", 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
    ])('FLEXPRICE_WEBHOOK_SECRET from %s, saying where the real one comes from', (_, secret) => {
      const problems = problemsOf({ FLEXPRICE_WEBHOOK_SECRET: `${SECRET} ${secret}` });
      expect(problems).toEqual([
        'FLEXPRICE_WEBHOOK_SECRET: secret #2 is an example secret (from .env.example or public documentation): ' +
          "anyone can sign with it; copy your endpoint's signing secret from Flexprice's webhook portal " +
          '(the Svix endpoint page); for a local run, pnpm start makes one',
      ]);
    });

    it("the static token of .env.example's commented self-hosted example", () => {
      const problems = problemsOf({
        FLEXPRICE_WEBHOOK_AUTH_HEADER: 'X-Api-Key',
        FLEXPRICE_WEBHOOK_AUTH_TOKEN: 'replace-me-with-a-long-random-token',
      });
      expect(problems).toEqual([
        'FLEXPRICE_WEBHOOK_AUTH_TOKEN: is an example value (a placeholder from .env.example or documentation): ' +
          'set the header value Flexprice sends (webhook.tenants.<id>.headers), a long random one (openssl rand -hex 32)',
      ]);
    });
  });

  describe('refuses numbers that would make a guarantee false, saying why', () => {
    const auth = { FLEXPRICE_WEBHOOK_SECRET: SECRET };
    it.each([
      // A target down for a second dead-lettered every job it met (issue 20, item 8).
      [{ JOB_BACKOFF_MS: '0' }, 'JOB_BACKOFF_MS: must be at least 100: a shorter first delay retries a failing job'],
      [{ JOB_ATTEMPTS: '1' }, "JOB_ATTEMPTS: with JOB_BACKOFF_MS, spreads a job's tries over as little as 0 s"],
      [{ JOB_ATTEMPTS: '3', JOB_BACKOFF_MS: '1000' }, "spreads a job's tries over as little as 1.5 s"],
      [
        { JOB_ATTEMPTS: '10', JOB_BACKOFF_MS: '100' },
        'raise JOB_ATTEMPTS or JOB_BACKOFF_MS until they span at least 30 s',
      ],
      [{ ENQUEUE_TIMEOUT_MS: '5000' }, 'ENQUEUE_TIMEOUT_MS: must be at most 4000'],
      [{ SHUTDOWN_TIMEOUT_MS: '2000' }, 'SHUTDOWN_TIMEOUT_MS: must be above ENQUEUE_TIMEOUT_MS (2000)'],
      [{ ENQUEUE_TIMEOUT_MS: '3000', SHUTDOWN_TIMEOUT_MS: '2500' }, 'must be above ENQUEUE_TIMEOUT_MS (3000)'],
    ])('%j', (env, expected) => {
      // (A 0 ms backoff breaks the span rule too: the floor's reason comes first.)
      expect(problemsOf({ ...auth, ...env })[0]).toContain(expected);
    });

    it('accepts the edges: a 30 s span, a 4 s enqueue deadline, a shutdown just above it', () => {
      // 3 s + 6 s + … : 5 tries at 4 s span 2 + 4 + 8 + 16 = 30 s.
      expect(loadConfig({ ...auth, JOB_ATTEMPTS: '5', JOB_BACKOFF_MS: '4000' }).queue.attempts).toBe(5);
      expect(
        loadConfig({ ...auth, ENQUEUE_TIMEOUT_MS: '4000', SHUTDOWN_TIMEOUT_MS: '4001' }).queue.enqueueTimeoutMs,
      ).toBe(4000);
    });
  });

  it('queues routed families, given the routes the workers have', () => {
    const config = loadConfig({
      FLEXPRICE_WEBHOOK_AUTH: 'none',
      ENQUEUE_EVENTS: 'customer.*,invoice.update.finalized',
      FORWARD_ROUTES: 'invoice.*=https://billing.internal/hooks',
    });
    expect(config.queue.enqueueEvents).toContain('invoice.update.finalized');
  });

  it('reads the static header name case-insensitively', () => {
    const config = loadConfig({
      FLEXPRICE_WEBHOOK_AUTH_HEADER: 'X-Api-Key',
      FLEXPRICE_WEBHOOK_AUTH_TOKEN: '0123456789abcdef',
    });
    expect(config.auth.staticHeader).toEqual({ name: 'x-api-key', token: '0123456789abcdef' });
  });

  it('reads durations written with their unit, and bare numbers in the unit of the name', () => {
    const withUnits = loadConfig({
      FLEXPRICE_WEBHOOK_SECRET: SECRET,
      FLEXPRICE_WEBHOOK_TOLERANCE_SECONDS: '2m',
      DEDUPE_TTL_SECONDS: '3d',
      ENQUEUE_TIMEOUT_MS: '1500ms',
      SHUTDOWN_TIMEOUT_MS: '20s',
    });
    expect(withUnits.auth.toleranceSeconds).toBe(120);
    expect(withUnits.queue).toMatchObject({ dedupeTtlSeconds: 3 * 24 * 3600, enqueueTimeoutMs: 1500 });
    expect(withUnits.shutdownTimeoutMs).toBe(20_000);
    expect(loadConfig({ FLEXPRICE_WEBHOOK_SECRET: SECRET, DEDUPE_TTL_SECONDS: '7200' }).queue.dedupeTtlSeconds).toBe(
      7200,
    );
    // The cross-field rules compare the values, whatever their spelling.
    expect(
      problemsOf({ FLEXPRICE_WEBHOOK_SECRET: SECRET, ENQUEUE_TIMEOUT_MS: '3s', SHUTDOWN_TIMEOUT_MS: '3000' }),
    ).toEqual([
      'SHUTDOWN_TIMEOUT_MS: must be above ENQUEUE_TIMEOUT_MS (3000): a webhook being queued at shutdown would be cut off without an answer',
    ]);
  });

  it('treats empty variables as unset', () => {
    expect(
      loadConfig({
        FLEXPRICE_WEBHOOK_SECRET: SECRET,
        FLEXPRICE_WEBHOOK_AUTH_HEADER: '',
        FLEXPRICE_WEBHOOK_AUTH_TOKEN: '',
      }).auth.staticHeader,
    ).toBeUndefined();
  });

  it('trusts the proxies it is given, as Express reads them, and refuses what Express would not', () => {
    const trusted = loadConfig({
      FLEXPRICE_WEBHOOK_SECRET: SECRET,
      TRUSTED_PROXIES: '10.0.0.5, 172.16.0.0/12 loopback',
    });
    expect(trusted.http.trustedProxies).toEqual(['10.0.0.5', '172.16.0.0/12', 'loopback']);
    expect(problemsOf({ FLEXPRICE_WEBHOOK_SECRET: SECRET, TRUSTED_PROXIES: 'proxy.internal' })).toEqual([
      'TRUSTED_PROXIES: must be IP addresses, CIDR ranges or loopback, linklocal, uniquelocal, space- or comma-separated',
    ]);
  });

  it('refuses a body budget smaller than one body', () => {
    expect(problemsOf({ FLEXPRICE_WEBHOOK_SECRET: SECRET, BODY_BUDGET_BYTES: '2048', MAX_BODY_BYTES: '4096' })).toEqual(
      ['BODY_BUDGET_BYTES: must be at least MAX_BODY_BYTES'],
    );
  });

  it('refuses the metrics port on the webhook port, which faces the internet', () => {
    expect(problemsOf({ FLEXPRICE_WEBHOOK_SECRET: SECRET, PORT: '8080', RECEIVER_METRICS_PORT: '8080' })).toEqual([
      'RECEIVER_METRICS_PORT: must differ from PORT (8080): the webhook port faces the internet, the metrics port must not',
    ]);
    expect(problemsOf({ FLEXPRICE_WEBHOOK_SECRET: SECRET, RECEIVER_METRICS_PORT: '3000' })).toHaveLength(1);
    // 0: a free port of the system's choosing (tests), never the webhook port.
    expect(loadConfig({ FLEXPRICE_WEBHOOK_SECRET: SECRET, RECEIVER_METRICS_PORT: '0' }).metrics.port).toBe(0);
  });
});
