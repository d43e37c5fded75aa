import { fileURLToPath } from 'node:url';
import { currentCustomer, customerEvent } from '@flexprice/contracts/fixtures';
import { freePort, runNode, redisTest as test, uniquePrefix } from '@flexprice/testing';
import { Queue } from 'bullmq';
import { describe, expect } from 'vitest';
import { SECRET, STATIC_TOKEN, signedHeaders } from './support.js';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));

/** Runs the built receiver as users do: `node dist/main.js`, configured by its environment only. */
const run = (env: Record<string, string>) => runNode(MAIN, env);

describe('the built receiver process', () => {
  test('refuses to start without an authentication method, and says how to configure one', async () => {
    const proc = run({ REDIS_URL: 'redis://127.0.0.1:1' });
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toContain('No webhook authentication configured');
  });

  test('stops at a wrong variable and names it', async () => {
    const proc = run({ FLEXPRICE_WEBHOOK_AUTH: 'none', JOB_BACKOFF_MS: 'soon' });
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toContain('JOB_BACKOFF_MS: must be a whole number');
  });

  test('queues a signed webhook, never logs secrets or emails, and exits 0 on SIGTERM', async ({ redis }) => {
    const port = await freePort();
    const prefix = uniquePrefix('proc');
    const proc = run({
      REDIS_URL: redis.url,
      PORT: String(port),
      HOST: '127.0.0.1',
      QUEUE_PREFIX: prefix,
      FLEXPRICE_WEBHOOK_SECRET: SECRET,
      FLEXPRICE_WEBHOOK_AUTH_HEADER: 'Authorization',
      FLEXPRICE_WEBHOOK_AUTH_TOKEN: `Bearer ${STATIC_TOKEN}`,
      LOG_LEVEL: 'debug',
    });
    const queue = new Queue('flexprice.customer', { connection: { url: redis.url }, prefix });
    try {
      await expect.poll(proc.output, { timeout: 10_000 }).toContain('receiver listening');
      const body = JSON.stringify(customerEvent('customer.created', currentCustomer({ email: 'jane@acme.test' })));
      const signed = await fetch(`http://127.0.0.1:${port}/webhooks/flexprice`, {
        method: 'POST',
        body,
        headers: signedHeaders(body),
      });
      expect(signed.status).toBe(202);
      const { id } = (await signed.json()) as { id: string };
      expect((await queue.getJob(id))?.data.event.customer.email).toBe('jane@acme.test');

      const bearer = await fetch(`http://127.0.0.1:${port}/webhooks/flexprice`, {
        method: 'POST',
        body: JSON.stringify(customerEvent('customer.updated')),
        headers: { 'content-type': 'application/json', authorization: `Bearer ${STATIC_TOKEN}` },
      });
      expect(bearer.status).toBe(202);

      proc.child.kill('SIGTERM');
      expect(await proc.exited).toBe(0);
      const logs = proc.output();
      expect(logs).toContain('receiver stopped');
      for (const secret of [SECRET, SECRET.slice(6), STATIC_TOKEN, 'jane@acme.test', 'billing@acme.test']) {
        expect(logs).not.toContain(secret);
      }
    } finally {
      proc.child.kill('SIGKILL');
      await queue.close();
    }
  });
});
