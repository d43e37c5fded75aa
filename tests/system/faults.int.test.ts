// Fault injection with the built processes: Redis killed (SIGKILL) and restarted, workers killed at
// random points, Redis out of memory, a slow forward target. FAULT_CYCLES sets how many kills
// (CI: small; `pnpm test:soak`: more).
import { redisTest, spawnRedisServer, type TestRedis } from '@flexprice/testing';
import { Redis } from 'ioredis';
import { describe, expect, test as plainTest } from 'vitest';
import {
  acknowledged,
  customerId,
  deliverAll,
  type Outcome,
  type System,
  startSystem,
  waitReady,
} from './system-support.js';

const CYCLES = Number(process.env.FAULT_CYCLES ?? 3);
const WORKER_KILLS = Number(process.env.WORKER_KILLS ?? 20);
const FAST_LOCKS = {
  WORKER_LOCK_DURATION_MS: '1000',
  WORKER_STALLED_INTERVAL_MS: '500',
  WORKER_MAX_STALLED_COUNT: '100',
};

const harness = (redis: TestRedis) => startSystem(redis, FAST_LOCKS);

/** Every acknowledged delivery of `run` forwarded, each with exactly one webhook-id. */
async function expectAllProcessedOnce(h: System, run: string, outcomes: Map<number, Outcome>) {
  const acked = acknowledged(outcomes);
  await expect
    .poll(() => acked.filter((i) => h.forwardsByCustomer().has(customerId(run, i))).length, {
      timeout: 60_000,
      interval: 250,
    })
    .toBe(acked.length);
  const forwards = h.forwardsByCustomer();
  const reused = acked.filter((i) => (forwards.get(customerId(run, i))?.size ?? 0) !== 1);
  expect(reused).toEqual([]);
  const sent = h.target.received.filter((r) => r.body.includes(`"cust_${run}_`)).length;
  console.info(
    `${run}: ${acked.length} acknowledged, all forwarded; ${sent - acked.length} repeated forwards, each with its first webhook-id`,
  );
  return acked.length;
}

describe('faults', () => {
  redisTest(
    `Redis SIGKILLed and restarted ${CYCLES}× mid-stream (appendfsync always): every 202 processed`,
    {
      timeout: 300_000,
    },
    async ({ redis, skip }) => {
      if (!redis.controllable) skip(`Redis from ${redis.source} is shared: this test needs one it may kill`);
      const h = await harness(redis);
      try {
        const receiver = await h.receiver();
        await h.worker();
        const per = 300;
        const killAt = new Set(Array.from({ length: CYCLES }, (_, k) => (k + 1) * per - 150));
        const outcomes = await deliverAll(receiver.port, 'rkill', CYCLES * per + 100, {
          during: async (sent) => {
            for (const at of killAt) {
              if (sent >= at) {
                killAt.delete(at);
                await redis.kill();
                await deliverAll(receiver.port, `rkill-down-${at}`, 25); // answered while down
                await redis.start();
                await waitReady(receiver.port, 20_000);
              }
            }
          },
        });
        const statuses = [...outcomes.values()].map((o) => (o.ok ? o.status : 0));
        expect(statuses.every((s) => s === 202 || s === 503)).toBe(true);
        await expectAllProcessedOnce(h, 'rkill', outcomes);
      } finally {
        await h.close();
      }
    },
  );

  plainTest('Redis SIGKILLed with appendfsync everysec: the loss window, measured', { timeout: 120_000 }, async () => {
    // everysec may postpone the AOF write while a background fsync is slow, and still answer
    // clients: a plain process kill can then lose the last acknowledged jobs. Measured, not hidden:
    // the count is printed and bounded to what was acknowledged in the last two seconds.
    const redis = await spawnRedisServer(process.env.REDIS_SERVER_BIN ?? 'redis-server', { appendfsync: 'everysec' });
    const h = await harness(redis);
    try {
      const receiver = await h.receiver();
      const answeredAt = new Map<number, number>();
      let killedAt = 0;
      const outcomes = await deliverAll(receiver.port, 'everysec', 1_000, {
        during: async (sent) => {
          for (let i = Math.max(0, sent - 25); i < sent; i += 1) answeredAt.set(i, Date.now());
          if (sent === 500) {
            killedAt = Date.now();
            await redis.kill();
            await redis.start();
            await waitReady(receiver.port, 20_000);
          }
        },
      });
      const acked = acknowledged(outcomes);
      const missing: number[] = [];
      for (const i of acked) {
        const outcome = outcomes.get(i);
        const id = outcome?.ok ? outcome.answer.id : undefined;
        if (!id || !(await h.queue.getJob(id))) missing.push(i);
      }
      console.info(`appendfsync everysec, Redis SIGKILL: ${missing.length} of ${acked.length} acknowledged jobs lost`);
      const recent = acked.filter((i) => i < 500 && killedAt - (answeredAt.get(i) ?? 0) <= 2_000);
      expect(missing.every((i) => recent.includes(i))).toBe(true);
    } finally {
      await h.close();
      await redis.dispose();
    }
  });

  redisTest(
    `a worker SIGKILLed at random points ${WORKER_KILLS}×: every job ends completed, none lost`,
    {
      timeout: 300_000,
    },
    async ({ redis }) => {
      const h = await harness(redis);
      try {
        const receiver = await h.receiver();
        await h.worker(); // a steady one
        const outcomes = await deliverAll(receiver.port, 'wkill', WORKER_KILLS * 40, {
          concurrency: 20,
          during: async (sent) => {
            if (sent % 40 === 0) {
              const victim = await h.worker({ WORKER_CONCURRENCY: '8' });
              // Before, during or after its forwards: a random moment in its first second.
              setTimeout(() => victim.child.kill('SIGKILL'), Math.floor(Math.random() * 1_000));
            }
          },
        });
        await expectAllProcessedOnce(h, 'wkill', outcomes);
        await expect
          .poll(() => h.queue.getJobCounts('waiting', 'active', 'delayed', 'failed'), { timeout: 30_000 })
          .toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0 });
      } finally {
        await h.close();
      }
    },
  );

  redisTest(
    'Redis at maxmemory (noeviction): 503 at once, not 500 or a hang; recovers when memory frees',
    {
      timeout: 120_000,
    },
    async ({ redis, skip }) => {
      if (!redis.controllable) skip(`Redis from ${redis.source} is shared: this test reconfigures its memory`);
      const h = await harness(redis);
      const admin = new Redis(redis.url);
      try {
        const receiver = await h.receiver();
        expect(acknowledged(await deliverAll(receiver.port, 'oom-before', 20))).toHaveLength(20);
        const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1]);
        await admin.config('SET', 'maxmemory-policy', 'noeviction');
        // Well under what is used: expiring keys of earlier tests cannot bring it back under.
        await admin.config('SET', 'maxmemory', String(Math.floor(used / 2)));
        const started = Date.now();
        const full = await deliverAll(receiver.port, 'oom-full', 20);
        expect(Date.now() - started).toBeLessThan(10_000);
        expect([...full.values()].map((o) => (o.ok ? o.status : 0))).toEqual(Array(20).fill(503));
        await admin.config('SET', 'maxmemory', '0');
        expect(acknowledged(await deliverAll(receiver.port, 'oom-after', 20))).toHaveLength(20);
      } finally {
        await admin.config('SET', 'maxmemory', '0').catch(() => undefined);
        admin.disconnect();
        await h.close();
      }
    },
  );

  redisTest(
    'a forward target that hangs for some customers does not stop the others',
    { timeout: 120_000 },
    async ({ redis }) => {
      const h = await harness(redis);
      try {
        h.target.setResponder((_n, body) => ({
          status: 200,
          delayMs: body.includes('"cust_slow_') ? 60_000 : 1, // longer than the forward timeout
        }));
        const receiver = await h.receiver();
        await h.worker({ FORWARD_TIMEOUT_MS: '500', WORKER_CONCURRENCY: '16' });
        await deliverAll(receiver.port, 'slow', 8); // cust_slow_*: time out and retry, again and again
        const started = Date.now();
        const fast = await deliverAll(receiver.port, 'fast', 200);
        await expectAllProcessedOnce(h, 'fast', fast);
        expect(Date.now() - started).toBeLessThan(15_000);
      } finally {
        await h.close();
      }
    },
  );
});
