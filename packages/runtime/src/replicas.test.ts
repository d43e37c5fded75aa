import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, parseEnv } from './env.js';
import type { RedisClient, RedisTarget } from './redis.js';
import { createReplicaWait, ReplicaWaitError, redisWaitEnv, replicaWaitOf } from './replicas.js';

/** A connection that answers WAIT when the test says so (the batching is what is tested here). */
function stubConnection() {
  const calls: { args: unknown[]; answer: (confirmed: number) => void; fail: (error: Error) => void }[] = [];
  const connection = Object.assign(new EventEmitter(), {
    call: (...args: unknown[]) =>
      new Promise((resolve, reject) => {
        calls.push({ args, answer: resolve, fail: reject });
      }),
  });
  return { connection: connection as unknown as RedisClient, emitter: connection, calls };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('createReplicaWait', () => {
  it('shares one WAIT among the calls that arrive while another is out, and never sends two at once', async () => {
    const { connection, calls } = stubConnection();
    const wait = createReplicaWait(connection, { replicas: 1, timeoutMs: 500 });
    const first = wait.confirm(wait.generation());
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args).toEqual(['WAIT', 1, 500]);
    // These writes may have been sent after the first WAIT: they need the next one, all together.
    const later = [1, 2, 3].map(() => wait.confirm(wait.generation()));
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

  it('rejects every call of a WAIT that too few replicas confirmed, or that failed (a demoted primary)', async () => {
    const { connection, calls } = stubConnection();
    const wait = createReplicaWait(connection, { replicas: 2, timeoutMs: 100 });
    const short = wait.confirm(wait.generation());
    calls[0]?.answer(1);
    await expect(short).rejects.toThrow(
      new ReplicaWaitError('1 of 2 Redis replica(s) confirmed the write within 100 ms'),
    );
    const demoted = wait.confirm(wait.generation());
    await settle();
    calls[1]?.fail(new Error('UNBLOCKED force unblock from blocking operation'));
    await expect(demoted).rejects.toBeInstanceOf(ReplicaWaitError);
    await expect(demoted).rejects.toThrow('UNBLOCKED');
  });

  it('never lets a WAIT answered over a new connection confirm writes sent over the old one', async () => {
    const { connection, emitter, calls } = stubConnection();
    const wait = createReplicaWait(connection, { replicas: 1, timeoutMs: 1000 });
    // A WAIT out and another call queued, then the connection closes (a failover): ioredis would
    // send the WAIT again on the new connection, to the new primary.
    const out = wait.confirm(wait.generation());
    const queued = wait.confirm(wait.generation());
    emitter.emit('close');
    await expect(out).rejects.toThrow('the Redis connection closed before the replicas confirmed the write');
    await expect(queued).rejects.toBeInstanceOf(ReplicaWaitError);
    calls[0]?.answer(1); // the resent WAIT's answer, from the new primary: it confirms nothing
    // A write made before the close, confirmed after it: refused without asking anyone.
    const since = wait.generation() - 1;
    await expect(wait.confirm(since)).rejects.toThrow('closed after the write');
    // The next writes, over the new connection, are confirmed as usual.
    await settle();
    const fresh = wait.confirm(wait.generation());
    await settle();
    calls.at(-1)?.answer(1);
    await expect(fresh).resolves.toBeUndefined();
  });

  it('sends nothing with 0 replicas', async () => {
    const { connection, calls } = stubConnection();
    await createReplicaWait(connection, { replicas: 0, timeoutMs: 1000 }).confirm(0);
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
