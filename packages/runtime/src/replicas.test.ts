import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, parseEnv } from './env.js';
import type { RedisClient, RedisTarget } from './redis.js';
import { createReplicaWait, ReplicaWaitError, redisWaitEnv, replicaWaitOf } from './replicas.js';

/** A connection that answers WAIT when the test says so (the batching is what is tested here). */
function stubConnection() {
  const calls: { args: unknown[]; answer: (confirmed: number) => void; fail: (error: Error) => void }[] = [];
  const connection = {
    call: (...args: unknown[]) =>
      new Promise((resolve, reject) => {
        calls.push({ args, answer: resolve, fail: reject });
      }),
  } as unknown as RedisClient;
  return { connection, calls };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('createReplicaWait', () => {
  it('shares one WAIT among the calls that arrive while another is out, and never sends two at once', async () => {
    const { connection, calls } = stubConnection();
    const wait = createReplicaWait(connection, { replicas: 1, timeoutMs: 500 });
    const first = wait.confirm();
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args).toEqual(['WAIT', 1, 500]);
    // These writes may have been sent after the first WAIT: they need the next one, all together.
    const later = [wait.confirm(), wait.confirm(), wait.confirm()];
    expect(calls).toHaveLength(1);
    calls[0]?.answer(1);
    await first;
    await settle();
    expect(calls).toHaveLength(2);
    calls[1]?.answer(2);
    await Promise.all(later);
    await settle();
    expect(calls).toHaveLength(2);
  });

  it('rejects every call of a WAIT that too few replicas confirmed, and passes a connection error on', async () => {
    const { connection, calls } = stubConnection();
    const wait = createReplicaWait(connection, { replicas: 2, timeoutMs: 100 });
    const short = Promise.allSettled([wait.confirm()]);
    calls[0]?.answer(1);
    const [result] = await short;
    expect(result?.status).toBe('rejected');
    const reason = (result as PromiseRejectedResult).reason;
    expect(reason).toBeInstanceOf(ReplicaWaitError);
    expect(reason.message).toBe('1 of 2 Redis replica(s) confirmed the write within 100 ms (REDIS_WAIT_REPLICAS)');
    const broken = wait.confirm();
    await settle();
    calls[1]?.fail(new Error('Connection is closed.'));
    await expect(broken).rejects.toThrow('Connection is closed.');
  });

  it('sends nothing with 0 replicas', async () => {
    const { connection, calls } = stubConnection();
    await createReplicaWait(connection, { replicas: 0, timeoutMs: 1000 }).confirm();
    expect(calls).toHaveLength(0);
  });
});

describe('REDIS_WAIT_REPLICAS', () => {
  const schema = z.object(redisWaitEnv);
  const standalone: RedisTarget = { mode: 'standalone', url: 'redis://x' };

  function check(env: Record<string, string>, target: RedisTarget = standalone) {
    const problems: string[] = [];
    const parsed = parseEnv(schema, env);
    const settings = replicaWaitOf(parsed, target, {
      addIssue: (issue: { path?: PropertyKey[]; message?: string }) =>
        problems.push(`${issue.path?.join('.')}: ${issue.message}`),
    } as unknown as z.RefinementCtx);
    return { settings, problems };
  }

  it('defaults to 0 (the primary alone) and a 1000 ms timeout', () => {
    expect(check({})).toEqual({ settings: { replicas: 0, timeoutMs: 1000 }, problems: [] });
    expect(check({ REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '250' }).settings).toEqual({
      replicas: 1,
      timeoutMs: 250,
    });
  });

  it('is refused with a cluster, and its timeout without it', () => {
    const cluster: RedisTarget = { mode: 'cluster', nodes: [{ host: 'a', port: 1 }], password: undefined };
    expect(check({ REDIS_WAIT_REPLICAS: '1' }, cluster).problems).toEqual([
      'REDIS_WAIT_REPLICAS: is not supported with REDIS_CLUSTER_NODES (WAIT would reach a random node): use 0',
    ]);
    expect(check({ REDIS_WAIT_TIMEOUT_MS: '500' }).problems).toEqual([
      'REDIS_WAIT_TIMEOUT_MS: is only read with REDIS_WAIT_REPLICAS above 0',
    ]);
    expect(() => parseEnv(schema, { REDIS_WAIT_REPLICAS: '-1' })).toThrow(ConfigError);
  });
});
