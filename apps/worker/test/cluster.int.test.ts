import { fileURLToPath } from 'node:url';
import { currentCustomer, customerEvent } from '@flexprice/contracts/fixtures';
import { createRedis } from '@flexprice/runtime';
import { canStartRedisCluster, freePort, runNode, startRedisCluster } from '@flexprice/testing';
import { Webhook } from 'standardwebhooks';
import { describe, expect, test } from 'vitest';
import { createCustomerStore } from '../src/customer-store.js';
import { FORWARD_SECRET, startForwardTarget } from './support.js';

const RECEIVER = fileURLToPath(new URL('../../receiver/dist/main.js', import.meta.url));
const WORKER = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const EVENTS = 300;

const available = await canStartRedisCluster();

describe.skipIf(!available)('on a 3-master Redis Cluster (skipped: redis-server / redis-cli not on PATH)', () => {
  test('a receiver and two workers process every event once in effect', { timeout: 90_000 }, async () => {
    const cluster = await startRedisCluster();
    const target = await startForwardTarget();
    const port = await freePort();
    const env = { REDIS_CLUSTER_NODES: cluster.nodeList, LOG_LEVEL: 'warn' };
    const receiver = runNode(RECEIVER, {
      ...env,
      PORT: String(port),
      HOST: '127.0.0.1',
      FLEXPRICE_WEBHOOK_SECRET: SECRET,
    });
    const workerEnv = async () => ({
      ...env,
      LOG_LEVEL: 'info',
      WORKER_METRICS_HOST: '127.0.0.1',
      WORKER_METRICS_PORT: String(await freePort()),
      CUSTOMER_FORWARD_URL: target.url,
      CUSTOMER_FORWARD_SECRET: FORWARD_SECRET,
    });
    const workers = [runNode(WORKER, await workerEnv()), runNode(WORKER, await workerEnv())];
    const storeRedis = createRedis({ mode: 'cluster', nodes: cluster.nodes, password: undefined }, 'consumer');
    try {
      await expect
        .poll(
          () =>
            fetch(`http://127.0.0.1:${port}/readyz`).then(
              (r) => r.status,
              () => 0,
            ),
          { timeout: 15_000 },
        )
        .toBe(200);
      const signer = new Webhook(SECRET);
      const send = async (i: number) => {
        const id = `cust_cluster_${i}`;
        const body = JSON.stringify(
          customerEvent('customer.created', currentCustomer({ id, external_id: `ext-${i}` })),
        );
        const now = new Date();
        const res = await fetch(`http://127.0.0.1:${port}/webhooks/flexprice`, {
          method: 'POST',
          body,
          headers: {
            'content-type': 'application/json',
            'svix-id': `msg_cluster_${i}`,
            'svix-timestamp': String(Math.floor(now.getTime() / 1000)),
            'svix-signature': signer.sign(`msg_cluster_${i}`, now, body),
          },
        });
        return ((await res.json()) as { status: string }).status;
      };
      const indexes = Array.from({ length: EVENTS }, (_, i) => i);
      const answers: string[] = [];
      for (let i = 0; i < EVENTS; i += 20) answers.push(...(await Promise.all(indexes.slice(i, i + 20).map(send))));
      expect(answers.filter((a) => a === 'queued')).toHaveLength(EVENTS);
      // Redeliveries are duplicates in the cluster too (the dedupe mark lives beside the queue).
      expect(await Promise.all(indexes.slice(0, 20).map(send))).toEqual(Array(20).fill('duplicate'));

      await expect.poll(() => target.received.length, { timeout: 30_000, interval: 100 }).toBe(EVENTS);
      expect(new Set(target.received.map((r) => r.headers['webhook-id'])).size).toBe(EVENTS);

      const store = createCustomerStore(storeRedis, { prefix: '{fpstore}', processedTtlSeconds: 3600 });
      const stored = await Promise.all(indexes.map((i) => store.get(`cust_cluster_${i}`)));
      expect(stored.filter((customer) => customer !== undefined)).toHaveLength(EVENTS);
      expect((await store.findByExternalId('ext-7')).map((c) => c.id)).toEqual(['cust_cluster_7']);
      // Both workers took a share of the work.
      const completedBy = workers.map((worker) => worker.output().split('"msg":"job completed"').length - 1);
      expect(completedBy.reduce((a, b) => a + b, 0)).toBe(EVENTS);
      expect(Math.min(...completedBy)).toBeGreaterThan(0);
    } finally {
      storeRedis.disconnect();
      for (const proc of [receiver, ...workers]) proc.child.kill('SIGKILL');
      await Promise.all([receiver.exited, ...workers.map((w) => w.exited)]);
      await target.close();
      await cluster.dispose();
    }
  });
});
