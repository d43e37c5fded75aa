import { freePort, runNode, TEST_SECRET } from '@flexprice/testing';
import { describe, expect, test } from 'vitest';
import { DASHBOARD_MAIN, RECEIVER_MAIN, WORKER_MAIN } from './system-support.js';

// What the built apps refuse to start with, as a user meets it: exit 1 and a line naming the
// variable, before any Redis work (the Redis named here is never reached).

/** A Standard Webhooks key of `bytes` bytes. */
const keyOf = (bytes: number) => `whsec_${Buffer.alloc(bytes, 7).toString('base64')}`;

const UNREACHABLE = 'redis://127.0.0.1:1';

const MAINS = { receiver: RECEIVER_MAIN, worker: WORKER_MAIN, dashboard: DASHBOARD_MAIN };

const cases: { app: keyof typeof MAINS; why: string; env: Record<string, string>; says: string }[] = [
  // Issue 20, item 3: `cp .env.example .env && docker compose up` accepted webhooks signed with a
  // secret printed in the repository (a forged customer.deleted answered 202).
  {
    app: 'receiver',
    why: ".env.example's placeholder secret",
    env: { REDIS_URL: UNREACHABLE, FLEXPRICE_WEBHOOK_SECRET: 'whsec_cmVwbGFjZS1tZS13aXRoLXlvdXItc3ZpeC1zZWNyZXQ=' },
    says:
      'FLEXPRICE_WEBHOOK_SECRET: secret #1 is an example secret (from .env.example or public documentation): ' +
      "anyone can sign with it; copy your endpoint's signing secret from Flexprice's webhook portal",
  },
  {
    app: 'receiver',
    why: "Svix's documentation example secret (the README's too, once)",
    env: { REDIS_URL: UNREACHABLE, FLEXPRICE_WEBHOOK_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' },
    says: 'FLEXPRICE_WEBHOOK_SECRET: secret #1 is an example secret',
  },
  {
    app: 'receiver',
    why: ".env.example's static token",
    env: {
      REDIS_URL: UNREACHABLE,
      FLEXPRICE_WEBHOOK_AUTH_HEADER: 'X-Api-Key',
      FLEXPRICE_WEBHOOK_AUTH_TOKEN: 'replace-me-with-a-long-random-token',
    },
    says: 'FLEXPRICE_WEBHOOK_AUTH_TOKEN: is an example value',
  },
  {
    app: 'worker',
    why: ".env.example's route secret",
    env: {
      REDIS_URL: UNREACHABLE,
      ENQUEUE_EVENTS: 'customer.*,invoice.*',
      FORWARD_ROUTES: 'invoice.*=http://127.0.0.1:9/invoices',
      FORWARD_SECRET: 'whsec_cmVwbGFjZS1tZS13aXRoLWEtcm91dGUtc2VjcmV0LTE=',
    },
    says: 'FORWARD_SECRET: secret #1 is an example secret',
  },
  {
    app: 'dashboard',
    why: ".env.example's admin password",
    env: { REDIS_URL: UNREACHABLE, ADMIN_USERNAME: 'ops', ADMIN_PASSWORD: 'replace-me-with-a-long-password' },
    says: 'ADMIN_PASSWORD: is an example value',
  },
  {
    app: 'receiver',
    why: 'a 1-byte signing key',
    env: { REDIS_URL: UNREACHABLE, FLEXPRICE_WEBHOOK_SECRET: 'whsec_AA==' },
    says: 'FLEXPRICE_WEBHOOK_SECRET: secret #1 is a 1-byte key; at least 24 bytes are needed',
  },
  {
    app: 'receiver',
    why: 'a 23-byte signing key',
    env: { REDIS_URL: UNREACHABLE, FLEXPRICE_WEBHOOK_SECRET: keyOf(23) },
    says: 'FLEXPRICE_WEBHOOK_SECRET: secret #1 is a 23-byte key',
  },
  {
    app: 'receiver',
    why: 'a dedupe window shorter than a signature stays valid',
    env: { REDIS_URL: UNREACHABLE, FLEXPRICE_WEBHOOK_SECRET: TEST_SECRET, DEDUPE_TTL_SECONDS: '599' },
    says: 'DEDUPE_TTL_SECONDS: must be at least 600',
  },
  {
    app: 'receiver',
    why: 'a cluster prefix whose first tag is empty ({}{x})',
    env: { REDIS_CLUSTER_NODES: '127.0.0.1:1', QUEUE_PREFIX: '{}{x}', FLEXPRICE_WEBHOOK_SECRET: TEST_SECRET },
    says: 'QUEUE_PREFIX: must carry a hash tag in cluster mode',
  },
  {
    app: 'worker',
    why: 'a 23-byte customer forward key',
    env: {
      REDIS_URL: UNREACHABLE,
      CUSTOMER_FORWARD_URL: 'http://127.0.0.1:9/customers',
      CUSTOMER_FORWARD_SECRET: keyOf(23),
    },
    says: 'CUSTOMER_FORWARD_SECRET: secret #1 is a 23-byte key',
  },
  {
    app: 'worker',
    why: 'a 1-byte route key',
    env: {
      REDIS_URL: UNREACHABLE,
      ENQUEUE_EVENTS: 'customer.*,invoice.*',
      FORWARD_ROUTES: 'invoice.*=http://127.0.0.1:9/invoices',
      FORWARD_SECRET: 'whsec_AA==',
    },
    says: 'FORWARD_SECRET: secret #1 is a 1-byte key',
  },
  {
    app: 'worker',
    why: 'a cluster store prefix whose first tag is empty ({}{fp})',
    env: { REDIS_CLUSTER_NODES: '127.0.0.1:1', QUEUE_PREFIX: '{fp}', STORE_PREFIX: '{}{fp}' },
    says: 'STORE_PREFIX: must carry a hash tag in cluster mode',
  },
];

describe('the built apps refuse a configuration that would let forged, replayed or misplaced data in', () => {
  test.each(cases)('$app: $why', async ({ app, env, says }) => {
    const proc = runNode(MAINS[app], env);
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toContain('Invalid configuration:');
    expect(proc.output()).toContain(says);
  });

  test('the same apps start with sound values (the cases above fail for their reason alone)', async () => {
    // A 24-byte key and a 600 s window are accepted: the receiver gets as far as Redis, which is
    // unreachable here, so it is stopped rather than left to retry.
    const proc = runNode(RECEIVER_MAIN, {
      REDIS_URL: UNREACHABLE,
      FLEXPRICE_WEBHOOK_SECRET: keyOf(24),
      DEDUPE_TTL_SECONDS: '600',
      PORT: String(await freePort()),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    });
    await expect.poll(() => proc.output(), { timeout: 15_000 }).toContain('waiting for redis');
    proc.child.kill('SIGKILL');
    await proc.exited;
    expect(proc.output()).not.toContain('Invalid configuration');
  });
});
