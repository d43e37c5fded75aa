import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { canStartRedisSentinel, startRedisSentinelSet } from '../src/redis-sentinel.js';

/** Retries `read` until it returns `expected`: during a failover commands fail or time out for a while. */
async function eventually<T>(read: () => Promise<T>, expected: T, timeoutMs = 20_000): Promise<unknown> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      last = await read();
      if (last === expected) return last;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return last;
}

describe.skipIf(!(await canStartRedisSentinel()))('startRedisSentinelSet', () => {
  it('fails over to the replica and takes the old primary back as a replica', { timeout: 60_000 }, async () => {
    const set = await startRedisSentinelSet();
    // Commands wait for the reconnect instead of failing after a few retries; the 2 s command
    // timeout keeps one stuck command from eating the whole deadline of `eventually`.
    const client = new Redis({
      sentinels: set.sentinels,
      name: set.name,
      maxRetriesPerRequest: null,
      commandTimeout: 2000,
    });
    client.on('error', () => {});
    try {
      expect(set.sentinelsEnv).toBe(set.sentinels.map((s) => `${s.host}:${s.port}`).join(','));
      const before = await set.primary();
      expect((await set.nodes()).map((node) => node.role).sort()).toEqual(['master', 'replica']);

      await client.set('sentinel:probe', 'before-failover');
      expect(await client.wait(1, 1000)).toBe(1);

      const killed = await set.killPrimary();
      expect(killed).toEqual(before);
      const promoted = await set.waitForPromotion(killed);
      expect(promoted).not.toEqual(killed);
      expect(await set.primary()).toEqual(promoted);

      expect(await eventually(() => client.get('sentinel:probe'), 'before-failover')).toBe('before-failover');
      // The same client writes to the promoted node: it followed the sentinels to the new primary.
      expect(await eventually(() => client.set('sentinel:after', 'yes'), 'OK')).toBe('OK');
      const direct = new Redis({ host: promoted.host, port: promoted.port, lazyConnect: true });
      try {
        await direct.connect();
        expect(await direct.get('sentinel:after')).toBe('yes');
      } finally {
        direct.disconnect();
      }

      await set.restart(killed);
      expect(await eventually(() => set.connectedReplicas(), 1)).toBe(1);
      // One primary, the one the sentinels name, and the other its replica. (Usually the promoted
      // node stays primary; on a loaded machine the sentinels may misjudge it down and fail over
      // back to the returned node once it has synced, which is as correct.)
      const roles = await set.nodes();
      const named = await set.primary();
      expect(roles.find((node) => node.port === named.port)?.role).toBe('master');
      expect(roles.filter((node) => node.port !== named.port).map((node) => node.role)).toEqual(['replica']);
      expect([promoted.port, killed.port]).toContain(named.port);
      expect(await eventually(() => client.get('sentinel:after'), 'yes')).toBe('yes');
    } finally {
      client.disconnect();
      await set.dispose();
      await set.dispose(); // a second call is a no-op
    }
  });

  it('with two replicas, a primary killed for good leaves a primary and a replica in sync', {
    timeout: 60_000,
  }, async () => {
    const set = await startRedisSentinelSet({ replicas: 2 });
    try {
      expect((await set.nodes()).map((node) => node.role).sort()).toEqual(['master', 'replica', 'replica']);
      expect(await set.connectedReplicas()).toBe(2);
      const killed = await set.killPrimary();
      const promoted = await set.waitForPromotion(killed);
      // The sentinels point the other replica at the promoted one: WAIT 1 has a replica again, with
      // the old primary still gone.
      expect(await eventually(() => set.connectedReplicas(), 1)).toBe(1);
      const roles = await set.nodes();
      expect(roles.find((node) => node.port === killed.port)?.role).toBe('down');
      expect(roles.find((node) => node.port === promoted.port)?.role).toBe('master');
      expect(roles.map((node) => node.role).sort()).toEqual(['down', 'master', 'replica']);
    } finally {
      await set.dispose();
    }
  });
});
