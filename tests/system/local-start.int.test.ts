import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { currentCustomer, customerEvent } from '@flexprice/contracts/fixtures';
import { freePort, runNode, signedHeaders } from '@flexprice/testing';
import { Redis } from 'ioredis';
import { describe, expect, test } from 'vitest';
import { createCustomerStore } from '../../apps/worker/src/customer-store.js';

const START = fileURLToPath(new URL('../../scripts/start-local.mjs', import.meta.url));
/** The placeholder secret of .env.example, which `pnpm start` falls back to. */
const EXAMPLE_SECRET = 'whsec_cmVwbGFjZS1tZS13aXRoLXlvdXItc3ZpeC1zZWNyZXQ=';

describe('pnpm start (no Docker)', () => {
  test('starts its own Redis when none answers, runs receiver and worker, stops all on SIGTERM', {
    timeout: 60_000,
  }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flexprice-start-'));
    const redisPort = await freePort();
    const httpPort = await freePort();
    const runner = runNode(START, {
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      LOCAL_REDIS_DIR: dir,
      PORT: String(httpPort),
      HOST: '127.0.0.1',
      WORKER_METRICS_PORT: String(await freePort()),
      WORKER_METRICS_HOST: '127.0.0.1',
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

      const body = JSON.stringify(customerEvent('customer.created', currentCustomer({ id: 'cust_local_start' })));
      const res = await fetch(`http://127.0.0.1:${httpPort}/webhooks/flexprice`, {
        method: 'POST',
        body,
        headers: signedHeaders(body, { secret: EXAMPLE_SECRET, id: 'msg_local_start' }),
      });
      expect(res.status).toBe(202);
      const store = createCustomerStore(redis, { prefix: 'fpstore', processedTtlSeconds: 60 });
      await expect.poll(() => store.get('cust_local_start'), { timeout: 10_000 }).toMatchObject({ deleted: false });

      runner.child.kill('SIGTERM');
      expect(await runner.exited).toBe(0);
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
