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
      RECEIVER_METRICS_PORT: String(await freePort()),
      RECEIVER_METRICS_HOST: '127.0.0.1',
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

  test('serves /metrics and why it is not ready on RECEIVER_METRICS_PORT only: the webhook port answers 404 and a bare status', async ({
    redis,
    skip,
  }) => {
    const [port, metricsPort] = [await freePort(), await freePort()];
    const proc = run({
      REDIS_URL: redis.url,
      PORT: String(port),
      HOST: '127.0.0.1',
      RECEIVER_METRICS_PORT: String(metricsPort),
      RECEIVER_METRICS_HOST: '127.0.0.1',
      QUEUE_PREFIX: uniquePrefix('ops'),
      FLEXPRICE_WEBHOOK_SECRET: SECRET,
      // A replica this Redis does not have: not ready, for a reason only the metrics port may tell.
      REDIS_WAIT_REPLICAS: '1',
    });
    const webhookPort = `http://127.0.0.1:${port}`;
    const opsPort = `http://127.0.0.1:${metricsPort}`;
    const answer = async (url: string) => {
      const res = await fetch(url);
      return [res.status, res.headers.get('content-type')?.startsWith('application/json') ? await res.json() : null];
    };
    try {
      await expect.poll(proc.output, { timeout: 10_000 }).toContain('receiver listening');
      const listening = proc
        .output()
        .split('\n')
        .find((line) => line.includes('receiver listening'));
      expect(JSON.parse(listening ?? '{}')).toMatchObject({ port, metricsPort });

      const scrape = await fetch(`${opsPort}/metrics`);
      expect(scrape.status).toBe(200);
      expect(scrape.headers.get('content-type')).toContain('text/plain');
      expect(await scrape.text()).toContain('# TYPE flexprice_webhook_requests_total counter');
      for (const path of ['/metrics', '/metrics/', '/METRICS']) {
        expect((await fetch(`${webhookPort}${path}`)).status, path).toBe(404);
      }
      expect(await answer(`${webhookPort}/healthz`)).toEqual([200, { status: 'ok' }]);
      expect(await answer(`${opsPort}/healthz`)).toEqual([200, { status: 'ok' }]);
      const detailed = await answer(`${opsPort}/readyz`);
      if ((detailed[0] as number) === 200) skip('this Redis has a replica');
      expect(detailed).toEqual([
        503,
        {
          status: 'unavailable',
          problems: ['redis_replicas: the primary has 0 replica(s) online, REDIS_WAIT_REPLICAS is 1'],
        },
      ]);
      expect(await answer(`${webhookPort}/readyz`)).toEqual([503, { status: 'unavailable' }]);
      // The metrics port serves the ops endpoints and nothing else.
      expect((await fetch(`${opsPort}/webhooks/flexprice`, { method: 'POST', body: '{}' })).status).toBe(404);

      proc.child.kill('SIGTERM');
      expect(await proc.exited).toBe(0);
    } finally {
      proc.child.kill('SIGKILL');
    }
  });
});
