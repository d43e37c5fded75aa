import { createRedis } from '@flexprice/runtime';
import { canStartRedisCluster, startEntityTarget, startForwardTarget, startRedisCluster } from '@flexprice/testing';
import { describe, expect, test } from 'vitest';
import { createCustomerStore } from '../../apps/worker/src/ordering/customer-store.js';
import {
  acknowledged,
  customerId,
  deliverAll,
  FORWARD_SECRET,
  familyBody,
  postWebhook,
  startReceiverProcess,
  startWorkerProcess,
  waitReady,
} from './system-support.js';

const EVENTS = 300;
const available = await canStartRedisCluster();

describe.skipIf(!available)('on a 3-master Redis Cluster (skipped: redis-server / redis-cli not on PATH)', () => {
  test('a receiver and two workers process every event once in effect', { timeout: 90_000 }, async () => {
    const cluster = await startRedisCluster();
    const target = await startForwardTarget();
    const invoices = await startEntityTarget();
    const env = {
      REDIS_CLUSTER_NODES: cluster.nodeList,
      ENQUEUE_EVENTS: 'customer.*,invoice.*',
      FORWARD_ROUTES: `invoice.*=${invoices.url}`,
      FORWARD_SECRET: FORWARD_SECRET,
    };
    const receiver = await startReceiverProcess(env);
    const workers = [
      await startWorkerProcess({ ...env, LOG_LEVEL: 'info' }, target.url),
      await startWorkerProcess({ ...env, LOG_LEVEL: 'info' }, target.url),
    ];
    const storeRedis = createRedis({ mode: 'cluster', nodes: cluster.nodes, password: undefined }, 'consumer');
    try {
      await waitReady(receiver.port);
      expect(acknowledged(await deliverAll(receiver.port, 'cluster', EVENTS, { concurrency: 20 }))).toHaveLength(
        EVENTS,
      );
      // Redeliveries are duplicates in the cluster too (the dedupe mark lives beside the queue).
      const again = await deliverAll(receiver.port, 'cluster', 20);
      expect([...again.values()].map((o) => o.ok && o.answer.status)).toEqual(Array(20).fill('duplicate'));

      await expect.poll(() => target.received.length, { timeout: 30_000, interval: 100 }).toBe(EVENTS);
      expect(new Set(target.received.map((r) => r.headers['webhook-id'])).size).toBe(EVENTS);

      const store = createCustomerStore(storeRedis, { prefix: '{fpstore}', deliveryPinTtlSeconds: 3600 });
      const ids = Array.from({ length: EVENTS }, (_, i) => customerId('cluster', i));
      const stored = await Promise.all(ids.map((id) => store.get(id)));
      expect(stored.filter((customer) => customer !== undefined)).toHaveLength(EVENTS);
      const seventh = customerId('cluster', 7);
      expect((await store.findByExternalId(`ext-${seventh}`)).map((c) => c.id)).toEqual([seventh]);
      // A routed family's entity marks and locks live in the cluster too (one slot: the store's tag).
      for (let seq = 1; seq <= 5; seq += 1) {
        for (let i = 0; i < 4; i += 1) {
          const body = familyBody('invoice.update.payment', `inv_cluster_${i}`, seq);
          expect((await postWebhook(receiver.port, body, 'signed')).status).toBe(202);
        }
      }
      await expect
        .poll(() => [0, 1, 2, 3].map((i) => invoices.ackedSeqs().get(`invoice:inv_cluster_${i}`)?.at(-1)), {
          timeout: 30_000,
          interval: 100,
        })
        .toEqual([5, 5, 5, 5]);
      expect(invoices.maxInFlight()).toBe(1);
      // Each process recorded its configuration beside the queues (the queue prefix's hash tag), and
      // the workers found they can process what the receiver queues.
      expect(await storeRedis.hlen('{flexprice}:config:receivers')).toBe(1);
      expect(await storeRedis.hlen('{flexprice}:config:workers')).toBe(2);
      for (const proc of [receiver, ...workers]) expect(proc.output()).not.toMatch(/could not record|mismatch/);
      // Both workers took a share of the work.
      const completedBy = workers.map((worker) => worker.output().split('"msg":"job completed"').length - 1);
      expect(completedBy.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(EVENTS);
      expect(Math.min(...completedBy)).toBeGreaterThan(0);
    } finally {
      storeRedis.disconnect();
      for (const proc of [receiver, ...workers]) proc.child.kill('SIGKILL');
      await Promise.all([receiver.exited, ...workers.map((w) => w.exited)]);
      await target.close();
      await invoices.close();
      await cluster.dispose();
    }
  });
});
