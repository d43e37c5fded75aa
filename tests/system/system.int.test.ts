import { redisTest } from '@flexprice/testing';
import { describe, expect } from 'vitest';
import { acknowledged, customerId, deliverAll, startSystem, waitReady } from './system-support.js';

// Crash-proofing with real built processes and a real Redis. Locks are short here so a killed
// worker's jobs come back in seconds (production defaults: 30 s; see README "Scaling").
const FAST_LOCKS = { WORKER_LOCK_DURATION_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000' };

/** A system with its own prefixes and forward target; every process it starts is killed after. */
const test = redisTest.extend('system', async ({ redis }, { onCleanup }) => {
  const system = await startSystem(redis, FAST_LOCKS);
  onCleanup(() => system.close());
  return system;
});

describe('end to end, with failures', () => {
  test('2,000 webhooks, 3 workers, one SIGKILLed mid-run: every acknowledged event processed', {
    timeout: 120_000,
  }, async ({ system }) => {
    const receiver = await system.receiver();
    const workers = [await system.worker(), await system.worker(), await system.worker()];
    let killed = false;
    const outcomes = await deliverAll(receiver.port, 'kill', 2_000, {
      during: (sent) => {
        if (sent >= 800 && !killed) {
          killed = true;
          workers[0]?.child.kill('SIGKILL');
        }
      },
    });
    const acked = acknowledged(outcomes);
    expect(acked).toHaveLength(2_000);

    await expect.poll(() => system.forwardsByCustomer().size, { timeout: 60_000, interval: 250 }).toBe(acked.length);
    await expect
      .poll(() => system.queue.getJobCounts('waiting', 'active', 'delayed', 'failed'), { timeout: 30_000 })
      .toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0 });
    const forwards = system.forwardsByCustomer();
    for (const i of acked) expect(forwards.get(customerId('kill', i))?.size, customerId('kill', i)).toBe(1);
    expect(await workers[0]?.exited).toBeNull(); // it really was killed, not stopped
  });

  test('receiver SIGTERMed under load: every 202 has its job; the rest got no 2xx', { timeout: 60_000 }, async ({
    system,
  }) => {
    const receiver = await system.receiver();
    let terminated = false;
    const outcomes = await deliverAll(receiver.port, 'term', 1_500, {
      concurrency: 30,
      during: (sent) => {
        if (sent >= 600 && !terminated) {
          terminated = true;
          // Mid-batch: requests are in flight when the signal lands.
          setTimeout(() => receiver.child.kill('SIGTERM'), 1);
        }
      },
    });
    expect(await receiver.exited).toBe(0);

    const acked = acknowledged(outcomes);
    const refused = [...outcomes.values()].filter((o) => !o.ok || o.status !== 202);
    expect(acked.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((o) => !o.ok || o.status >= 300)).toBe(true);
    const missing: number[] = [];
    for (const i of acked) {
      const outcome = outcomes.get(i);
      const jobId = outcome?.ok ? outcome.answer.id : undefined;
      if (!jobId || !(await system.queue.getJob(jobId))) missing.push(i);
    }
    expect(missing).toEqual([]);
  });

  test('Redis restarted mid-run: 503 while down, both apps recover by themselves, nothing acknowledged is lost', {
    timeout: 120_000,
  }, async ({ system, redis, skip }) => {
    if (!redis.controllable) skip(`Redis from ${redis.source} is shared: this test needs one it may stop`);
    const receiver = await system.receiver();
    await system.worker();
    await system.worker();
    let phase: 'before' | 'down' | 'after' = 'before';
    const outcomes = await deliverAll(receiver.port, 'restart', 1_200, {
      during: async (sent) => {
        if (sent >= 400 && phase === 'before') {
          phase = 'down';
          await redis.stop();
        } else if (sent >= 600 && phase === 'down') {
          phase = 'after';
          await redis.start();
          await waitReady(receiver.port, 20_000);
        }
      },
    });
    const statuses = [...outcomes.values()].map((o) => (o.ok ? o.status : 0));
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 202 || s === 503)).toBe(true);
    // After the restart the receiver took webhooks again without being restarted.
    expect(outcomes.get(1_199)).toMatchObject({ ok: true, status: 202 });

    const acked = acknowledged(outcomes);
    await expect.poll(() => system.forwardsByCustomer().size, { timeout: 60_000, interval: 250 }).toBe(acked.length);
    const forwards = system.forwardsByCustomer();
    for (const i of acked) expect(forwards.get(customerId('restart', i))?.size).toBe(1);
  });
});
