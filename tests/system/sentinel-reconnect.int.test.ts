import { createRedis } from '@flexprice/runtime';
import { canStartRedisSentinel, type RedisSentinelSet, startRedisSentinelSet } from '@flexprice/testing';
import type { Redis } from 'ioredis';
import { describe, expect, test } from 'vitest';

// A connection through Sentinel must come back after a failover, however the announcement of the
// new primary falls. ioredis ends a client for good (status `end`, no more reconnects) when its
// connector is disconnected while it looks the primary up; its failover detector does exactly that
// on `+switch-master`, and on a loaded machine the lookup is slow enough to be caught (two CI runs
// lost a receiver that way). The lookups are slowed here so that the announcement lands in one.

const LOOKUP_MS = 2_000;

type Connector = { resolve: (endpoint: unknown) => Promise<unknown> };

/** A client of the set's primary, made as the apps make theirs. */
function connect(set: RedisSentinelSet, role: 'producer' | 'consumer'): Redis {
  const target = { mode: 'sentinel' as const, sentinels: set.sentinels, name: set.name };
  const client = createRedis({ ...target, password: undefined, sentinelPassword: undefined }, role) as Redis;
  client.on('error', () => {});
  return client;
}

describe.skipIf(!(await canStartRedisSentinel()))('a connection through Sentinel', () => {
  test.for(['producer', 'consumer'] as const)(
    '%s: a promotion announced while it looks the primary up does not end it',
    { timeout: 90_000 },
    async (role) => {
      const set = await startRedisSentinelSet();
      const client = connect(set, role);
      const ended: string[] = [];
      client.on('end', () => ended.push(client.status));
      try {
        await expect.poll(() => client.status, { timeout: 10_000 }).toBe('ready');
        const connector = (client as unknown as { connector: Connector }).connector;
        const lookUp = connector.resolve.bind(connector);
        connector.resolve = async (endpoint) => {
          await new Promise((resolve) => setTimeout(resolve, LOOKUP_MS));
          return lookUp(endpoint);
        };

        const killed = await set.killPrimary();
        const promoted = await set.waitForPromotion(killed);
        await expect.poll(() => client.status, { timeout: 30_000, interval: 100 }).toBe('ready');
        expect(ended).toEqual([]);
        expect(await client.ping()).toBe('PONG');
        // Connected to the new primary, which takes writes.
        expect(((await client.call('ROLE')) as unknown[])[0]).toBe('master');
        expect(await client.set('after-failover', 'yes')).toBe('OK');
        expect(await set.primary()).toEqual(promoted);
      } finally {
        client.disconnect();
        await set.dispose();
      }
    },
  );

  test('a sentinel that hangs does not hold up the lookup: the others name the promoted primary', {
    timeout: 90_000,
  }, async () => {
    const set = await startRedisSentinelSet();
    const client = connect(set, 'producer');
    const [hung] = set.sentinels;
    if (!hung) throw new Error('the set has no sentinel');
    try {
      await expect.poll(() => client.status, { timeout: 10_000 }).toBe('ready');
      // Holds its connections and answers nothing: a lookup sent to it gets no reply.
      set.pause(hung);
      const killed = await set.killPrimary();
      // (Not set.waitForPromotion: it asks every sentinel, the hung one too.) The client finds the
      // promoted primary through the two that answer.
      const servedBy = async () => {
        const [role] = (await client.call('ROLE')) as unknown[];
        const [, port] = (await client.call('CONFIG', 'GET', 'port')) as string[];
        return { role, port: Number(port) };
      };
      await expect
        .poll(() => servedBy().catch((error: Error) => error.message), { timeout: 30_000, interval: 200 })
        .toEqual({ role: 'master', port: expect.not.toSatisfy((port: number) => port === killed.port) });
    } finally {
      set.resume(hung);
      client.disconnect();
      await set.dispose();
    }
  });
});
