import { familyQueueNames, layoutsKey, shardQueueName, shardTag, slotOf } from '@flexprice/contracts';
import { currentCustomer, customerEvent } from '@flexprice/contracts/fixtures';
import { createRedis } from '@flexprice/runtime';
import {
  canStartRedisCluster,
  runNode,
  startEntityTarget,
  startForwardTarget,
  startRedisCluster,
} from '@flexprice/testing';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createCustomerStore } from '../../apps/worker/src/ordering/customer-store.js';
import {
  DLQ_CLI,
  FORWARD_SECRET,
  familyBody,
  postWebhook,
  startReceiverProcess,
  startWorkerProcess,
  systemTestWithClient,
  waitReady,
} from './system-support.js';

// QUEUE_SHARDS: each family's queue split by entity. On one server a count changed leaves no job
// behind (the workers drain every layout recorded); on a Redis Cluster the shards spread the work
// over the masters, an entity's state still never goes backwards, and another count is refused.

const test = systemTestWithClient();

const customer = (id: string, name: string) =>
  customerEvent('customer.updated', currentCustomer({ id, external_id: `ext-${id}`, name }));

/** Shuffles in place (Fisher-Yates) and returns the array. */
function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

/** The jobs waiting in each customer queue of a layout. */
async function waitingIn(client: Redis, prefix: string, shards: number): Promise<number[]> {
  return Promise.all(familyQueueNames('customer', shards).map((name) => client.llen(`${prefix}:${name}:wait`)));
}

describe('on one Redis server', () => {
  test('QUEUE_SHARDS 1 → 3 → 1 while no worker runs: a worker with 1 drains every layout recorded', {
    timeout: 90_000,
  }, async ({ system }) => {
    const prefix = system.env.QUEUE_PREFIX;
    const batches = [1, 3, 1].map((shards, b) => ({
      shards,
      ids: Array.from({ length: 30 }, (_, i) => `cust_layout_${b}_${i}`),
    }));
    for (const { shards, ids } of batches) {
      const receiver = await system.receiver({ QUEUE_SHARDS: String(shards) });
      for (const id of ids) {
        const { status } = await postWebhook(receiver.port, customer(id, `${shards}-shards`), 'signed');
        expect(status).toBe(202);
      }
      receiver.child.kill('SIGTERM');
      await receiver.exited;
    }
    // The 3-shard receiver spread its 30 customers over its three queues; both layouts are recorded.
    expect((await waitingIn(system.client, prefix, 3)).every((n) => n > 0)).toBe(true);
    expect(await waitingIn(system.client, prefix, 1)).toEqual([60]);
    expect((await system.client.smembers(layoutsKey(prefix))).sort()).toEqual(['1', '3']);

    // One customer's forward is refused for good: its dead letter sits in a shard queue.
    const refused = batches[1]?.ids[0] as string;
    system.target.setResponder((_n, body) => ({ status: body.includes(`"${refused}"`) ? 400 : 200 }));
    const worker = await system.worker({ QUEUE_SHARDS: '1' });
    const all = batches.flatMap(({ ids }) => ids);
    await expect
      .poll(() => new Set(system.target.received.map((r) => JSON.parse(r.body).customer.id)).size, {
        timeout: 30_000,
        interval: 100,
      })
      .toBe(all.length);
    expect([...(await waitingIn(system.client, prefix, 3)), ...(await waitingIn(system.client, prefix, 1))]).toEqual([
      0, 0, 0, 0,
    ]);
    const store = createCustomerStore(system.client, { prefix: system.env.STORE_PREFIX, deliveryPinTtlSeconds: 60 });
    expect((await Promise.all(all.map((id) => store.get(id)))).filter((c) => c === undefined)).toEqual([]);

    // pnpm dlq sees the dead letter in its shard queue: the family's name stands for all its shards.
    const shardOfRefused = familyQueueNames('customer', 3);
    const failed = async () =>
      (await Promise.all(shardOfRefused.map((name) => system.client.zcard(`${prefix}:${name}:failed`)))).reduce(
        (a, b) => a + b,
      );
    await expect.poll(failed, { timeout: 15_000 }).toBe(1);
    const list = runNode(DLQ_CLI, system.env, ['list', '--json', '--queue', 'flexprice.customer']);
    expect(await list.exited).toBe(0);
    const rows = JSON.parse(list.output().slice(list.output().indexOf('['))) as { queue: string }[];
    expect(rows.map((row) => row.queue)).toHaveLength(1);
    expect(shardOfRefused).toContain(rows[0]?.queue);
    worker.child.kill('SIGKILL');
  });
});

const clusterAvailable = await canStartRedisCluster();

describe.skipIf(!clusterAvailable)('on a 3-master Redis Cluster with QUEUE_SHARDS=6', () => {
  it('the masters share the work, state never goes backwards, and another count is refused', {
    timeout: 150_000,
  }, async () => {
    const CUSTOMERS = 240;
    const VERSIONS = 3;
    const INVOICES = 30;
    const cluster = await startRedisCluster();
    const target = await startForwardTarget(() => ({ status: 200 }));
    const invoices = await startEntityTarget();
    const env = {
      REDIS_CLUSTER_NODES: cluster.nodeList,
      QUEUE_SHARDS: '6',
      ENQUEUE_EVENTS: 'customer.*,invoice.*',
      FORWARD_ROUTES: `invoice.*=${invoices.url}`,
      FORWARD_SECRET,
    };
    const nodes = cluster.nodes.map(({ host, port }) => new Redis({ host, port }));
    const storeRedis = createRedis({ mode: 'cluster', nodes: cluster.nodes, password: undefined }, 'consumer');
    const processes: { child: { kill: (signal: NodeJS.Signals) => boolean }; exited: Promise<unknown> }[] = [];
    try {
      // The six shards' tags fall in six equal slot ranges: two on each master of an even split.
      const slots = Array.from({ length: 6 }, (_, shard) => slotOf(shardTag(shard, 6)));
      slots.forEach((slot, shard) => {
        expect(slot).toBeGreaterThanOrEqual(Math.floor((shard * 16_384) / 6));
        expect(slot).toBeLessThan(Math.floor(((shard + 1) * 16_384) / 6));
      });

      const receiver = await startReceiverProcess(env);
      processes.push(receiver);
      for (let w = 0; w < 2; w += 1) {
        processes.push(await startWorkerProcess({ ...env, WORKER_CONCURRENCY: '32', LOG_LEVEL: 'info' }, target.url));
      }
      await waitReady(receiver.port);
      const processed = async () =>
        Promise.all(
          nodes.map(async (node) => Number(/total_commands_processed:(\d+)/.exec(await node.info('stats'))?.[1])),
        );
      const before = await processed();

      // Each customer's versions in order (each after the previous 202, as Flexprice sends them),
      // the customers interleaved at random; the invoices' versions shuffled outright (their
      // payload time orders them).
      const ids = Array.from({ length: CUSTOMERS }, (_, i) => `cust_shard_${i}`);
      const turns = shuffle(ids.flatMap((id) => Array.from({ length: VERSIONS }, () => id)));
      const invoiceBodies = shuffle(
        Array.from({ length: INVOICES }, (_, i) =>
          [1, 2, 3].map((seq) => familyBody('invoice.update.payment', `inv_shard_${i}`, seq)),
        ).flat(),
      );
      // A customer's next version goes once its previous one was acknowledged: one chain each.
      const chains = new Map<string, Promise<number>>();
      const send = (id: string): Promise<number> => {
        const next = (chains.get(id) ?? Promise.resolve(-1)).then(async (previous) => {
          const { status } = await postWebhook(receiver.port, customer(id, `v${previous + 1}`), 'signed');
          expect(status).toBe(202);
          return previous + 1;
        });
        chains.set(id, next);
        return next;
      };
      const lanes = Array.from({ length: 24 }, async (_, lane) => {
        for (let k = lane; k < turns.length; k += 24) await send(turns[k] as string);
        for (let k = lane; k < invoiceBodies.length; k += 24) {
          expect((await postWebhook(receiver.port, invoiceBodies[k] as object, 'signed')).status).toBe(202);
        }
      });
      await Promise.all(lanes);

      const store = createCustomerStore(storeRedis, {
        prefix: 'fpstore',
        deliveryPinTtlSeconds: 3600,
        layout: { shards: 6, cluster: true },
      });
      const last = `v${VERSIONS - 1}`;
      await expect
        .poll(
          async () =>
            (await Promise.all(ids.map((id) => store.get(id)))).filter((c) => c?.customer.name === last).length,
          {
            timeout: 60_000,
            interval: 250,
          },
        )
        .toBe(CUSTOMERS);
      await expect
        .poll(
          () =>
            Array.from({ length: INVOICES }, (_, i) =>
              invoices.ackedSeqs().get(`invoice:inv_shard_${i}`)?.at(-1),
            ).filter((seq) => seq === 3).length,
          { timeout: 60_000, interval: 250 },
        )
        .toBe(INVOICES);
      // At the target too: each customer's last acknowledged forward is its newest state, and no
      // older state followed a newer one.
      // (A state is stored before it is forwarded: the forwards may still be on their way.)
      const forwardedNames = (id: string) =>
        target.received
          .filter((r) => r.status === 200)
          .map((r) => JSON.parse(r.body) as { customer: { id: string; name: string } })
          .filter((b) => b.customer.id === id)
          .map((b) => Number(b.customer.name.slice(1)));
      await expect
        .poll(() => ids.filter((id) => forwardedNames(id).at(-1) !== VERSIONS - 1), { timeout: 30_000, interval: 250 })
        .toEqual([]);
      const wrong: string[] = [];
      for (const id of ids) {
        const names = forwardedNames(id);
        if (names.some((n, k) => k > 0 && n < (names[k - 1] as number))) wrong.push(`${id}: ${names.join(',')}`);
      }
      expect(wrong).toEqual([]);
      for (const [entity, seqs] of invoices.ackedSeqs()) {
        if (seqs.some((n, k) => k > 0 && n < (seqs[k - 1] as number))) wrong.push(`${entity}: ${seqs.join(',')}`);
      }
      expect(wrong).toEqual([]);

      // A Svix retry is a duplicate on its shard (the dedupe key lives beside the shard's queue).
      const again = await Promise.all(
        ids.slice(0, 24).map(async (id) => {
          const first = await postWebhook(receiver.port, customer(id, last), 'signed', `msg_again_${id}`);
          const retry = await postWebhook(receiver.port, customer(id, last), 'signed', `msg_again_${id}`);
          return `${first.answer.status} ${retry.answer.status}`;
        }),
      );
      expect(new Set(again)).toEqual(new Set(['queued duplicate']));
      // Every master took a share of the commands, none more than half.
      const after = await processed();
      const done = after.map((n, i) => n - (before[i] as number));
      const total = done.reduce((a, b) => a + b, 0);
      const shares = done.map((n) => n / total);
      expect(Math.min(...shares), `shares ${shares.map((s) => s.toFixed(2)).join(', ')}`).toBeGreaterThan(0.15);
      expect(Math.max(...shares), `shares ${shares.map((s) => s.toFixed(2)).join(', ')}`).toBeLessThan(0.5);
      // The queues of each shard hold their slot's keys (their names carry the tag).
      expect(shardQueueName('customer', 0, 6)).toBe(`flexprice.customer.{${shardTag(0, 6)}}`);

      // Another count on this cluster would move the store's keys: refused at start, saying why.
      const other = await startReceiverProcess({ ...env, QUEUE_SHARDS: '3' });
      processes.push(other);
      expect(await other.exited).not.toBe(0);
      expect(other.output()).toMatch(/QUEUE_SHARDS: this Redis Cluster's queues were run with QUEUE_SHARDS=6, not 3/);
    } finally {
      storeRedis.disconnect();
      for (const node of nodes) node.disconnect();
      for (const proc of processes) proc.child.kill('SIGKILL');
      await Promise.all(processes.map((proc) => proc.exited));
      await target.close();
      await invoices.close();
      await cluster.dispose();
    }
  });
});
