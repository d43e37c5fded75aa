import { createRedis, type RedisClient } from '@flexprice/runtime';
import { redisTest, uniquePrefix } from '@flexprice/testing';
import { describe, expect } from 'vitest';
import { createAcceptor } from '../src/acceptance.js';

/** An acceptor on a connection of its own, and a queue key of its own. */
const test = redisTest.extend('setup', async ({ redis }, { onCleanup }) => {
  const connection: RedisClient = createRedis({ mode: 'standalone', url: redis.url }, 'consumer');
  onCleanup(() => connection.disconnect());
  const queueKey = `${uniquePrefix('acc')}:flexprice.customer`;
  const timeCalls = async () =>
    Number(/cmdstat_time:calls=(\d+)/.exec(await connection.info('commandstats'))?.[1] ?? 0);
  return { connection, queueKey, acceptor: createAcceptor(connection, { markTtlSeconds: 600 }), timeCalls };
});

describe('accepting deliveries', () => {
  test('the deliveries of one turn of the event loop share one script call, each with its own increasing stamp', async ({
    setup,
  }) => {
    const { acceptor, queueKey, timeCalls } = setup;
    const before = await timeCalls();
    const accepted = await Promise.all(
      Array.from({ length: 50 }, (_, i) => acceptor.accept({ queueKey, jobId: `job-${i}` })),
    );
    expect(await timeCalls()).toBe(before + 1);
    const stamps = accepted.map((a) => a.acceptedAt);
    expect(stamps.every((stamp) => /^\d{17}$/.test(stamp))).toBe(true);
    expect([...stamps].sort()).toEqual(stamps);
    expect(new Set(stamps).size).toBe(50);
    // The next call continues after the last stamp given, whatever Redis' clock says.
    const next = await acceptor.accept({ queueKey, jobId: 'job-next' });
    expect(next.acceptedAt > (stamps.at(-1) ?? '')).toBe(true);
  });

  test('natively, copies of one delivery in one call get the same key (BullMQ then keeps one job); other bytes chain a new key', async ({
    setup,
  }) => {
    const { acceptor, queueKey } = setup;
    const markKey = `${queueKey}:latest:cust_1`;
    const [a, b, c] = await Promise.all([
      acceptor.accept({ queueKey, jobId: 'j1', native: { markKey, content: 'X' } }),
      acceptor.accept({ queueKey, jobId: 'j2', native: { markKey, content: 'X' } }),
      acceptor.accept({ queueKey, jobId: 'j3', native: { markKey, content: 'Y' } }),
    ]);
    expect(a).toMatchObject({ verdict: 'new', key: expect.stringMatching(/^nat-[0-9a-f]{40}$/) });
    expect(b).toMatchObject({ verdict: 'new', key: a?.key });
    expect(c).toMatchObject({ verdict: 'new' });
    expect(c?.key).not.toBe(a?.key);
    // X again after Y is a new state: a new key, not the first X's.
    const again = await acceptor.accept({ queueKey, jobId: 'j4', native: { markKey, content: 'X' } });
    expect(again.key).not.toBe(a?.key);
    expect(again.key).not.toBe(c?.key);
  });

  test('a repeat of the latest is a duplicate only once its job exists (its BullMQ dedupe key)', async ({ setup }) => {
    const { acceptor, queueKey, connection } = setup;
    const markKey = `${queueKey}:latest:cust_2`;
    const first = await acceptor.accept({ queueKey, jobId: 'j1', native: { markKey, content: 'X' } });
    const beforeJob = await acceptor.accept({ queueKey, jobId: 'j2', native: { markKey, content: 'X' } });
    expect(beforeJob).toMatchObject({ verdict: 'new', key: first.key });
    await connection.set(`${queueKey}:de:${first.key}`, 'j1', 'EX', 60);
    expect(await acceptor.accept({ queueKey, jobId: 'j3', native: { markKey, content: 'X' } })).toMatchObject({
      verdict: 'duplicate',
      jobId: 'j1',
      key: first.key,
    });
  });

  test('a mark of the wrong type fails its own delivery only, not the others of its call', async ({ setup }) => {
    const { acceptor, queueKey, connection } = setup;
    const bad = `${queueKey}:latest:cust_bad`;
    await connection.hset(bad, 'x', '1');
    const [failed, fine] = await Promise.allSettled([
      acceptor.accept({ queueKey, jobId: 'j1', native: { markKey: bad, content: 'X' } }),
      acceptor.accept({ queueKey, jobId: 'j2', native: { markKey: `${queueKey}:latest:cust_ok`, content: 'X' } }),
    ]);
    expect(failed).toMatchObject({
      status: 'rejected',
      reason: { name: 'ReplyError', message: expect.stringMatching(/WRONGTYPE/) },
    });
    expect(fine).toMatchObject({ status: 'fulfilled', value: { verdict: 'new' } });
  });
});
