import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { currentCustomer, customerEvent } from '@flexprice/contracts/fixtures';
import { freePort, runNode, signedHeaders } from '@flexprice/testing';
import { Redis } from 'ioredis';
import { describe, expect, test } from 'vitest';
import { createCustomerStore } from '../../apps/worker/src/ordering/customer-store.js';

const START = fileURLToPath(new URL('../../scripts/start-local.mjs', import.meta.url));
const SEND_TEST_WEBHOOK = fileURLToPath(new URL('../../apps/receiver/dist/cli/send-test-webhook.js', import.meta.url));
/** The placeholder secret of .env.example: public, so the receiver must refuse it (issue 20, item 3). */
const EXAMPLE_SECRET = 'whsec_cmVwbGFjZS1tZS13aXRoLXlvdXItc3ZpeC1zZWNyZXQ=';

describe('pnpm start (no Docker)', () => {
  test('starts its own Redis when none answers, runs receiver and worker on a session secret, stops all on SIGTERM', {
    timeout: 60_000,
  }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flexprice-start-'));
    const redisPort = await freePort();
    const httpPort = await freePort();
    const sessionFile = join(dir, 'session.env');
    const runner = runNode(START, {
      LOCAL_SESSION_FILE: sessionFile,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      LOCAL_REDIS_DIR: dir,
      PORT: String(httpPort),
      HOST: '127.0.0.1',
      WORKER_METRICS_PORT: String(await freePort()),
      WORKER_METRICS_HOST: '127.0.0.1',
      RECEIVER_METRICS_PORT: String(await freePort()),
      RECEIVER_METRICS_HOST: '127.0.0.1',
    });
    const redis = new Redis({ port: redisPort, lazyConnect: true, maxRetriesPerRequest: 1 });
    redis.on('error', () => {});
    try {
      await expect
        .poll(
          () =>
            fetch(`http://127.0.0.1:${httpPort}/readyz`).then(
              (r) => r.status,
              () => 0,
            ),
          { timeout: 30_000 },
        )
        .toBe(200);
      expect(runner.output()).toContain('using .env.example');
      expect(runner.output()).toContain(`starting redis-server on ${redisPort}`);
      expect(runner.output()).toContain(
        'the signing secret is a public placeholder: this session signs with a new one',
      );

      // .env.example's placeholder is public: a webhook signed with it is forged.
      const body = JSON.stringify(customerEvent('customer.created', currentCustomer({ id: 'cust_local_start' })));
      const post = (secret: string) =>
        fetch(`http://127.0.0.1:${httpPort}/webhooks/flexprice`, {
          method: 'POST',
          body,
          headers: signedHeaders(body, { secret, id: 'msg_local_start' }),
        });
      expect((await post(EXAMPLE_SECRET)).status).toBe(401);
      // The session's secret is in its file, never in the output.
      const secret = /^FLEXPRICE_WEBHOOK_SECRET=(whsec_\S+)$/m.exec(await readFile(sessionFile, 'utf8'))?.[1] ?? '';
      expect(secret).toMatch(/^whsec_/);
      expect(runner.output()).not.toContain(secret);
      expect((await post(secret)).status).toBe(202);

      // `pnpm send-test-webhook` finds the session's secret by itself.
      const sent = runNode(SEND_TEST_WEBHOOK, { PORT: String(httpPort), LOCAL_SESSION_FILE: sessionFile });
      expect(await sent.exited, sent.output()).toBe(0);
      expect(sent.output()).toContain('202 {"status":"queued"');
      const store = createCustomerStore(redis, { prefix: 'fpstore', deliveryPinTtlSeconds: 60 });
      await expect.poll(() => store.get('cust_local_start'), { timeout: 10_000 }).toMatchObject({ deleted: false });

      runner.child.kill('SIGTERM');
      expect(await runner.exited).toBe(0);
      expect(existsSync(sessionFile), 'the session file outlived the session').toBe(false);
      redis.disconnect();
      const probe = new Redis({
        port: redisPort,
        lazyConnect: true,
        retryStrategy: () => null,
        maxRetriesPerRequest: 0,
      });
      probe.on('error', () => {});
      await expect(probe.connect()).rejects.toThrow();
      probe.disconnect();
    } finally {
      runner.child.kill('SIGKILL');
      redis.disconnect();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
