import { createRedis, SENTINEL_SOCKET_TIMEOUT_MS } from '@flexprice/runtime';
import { canStartRedisSentinel, startRedisSentinelSet } from '@flexprice/testing';
import type { Redis } from 'ioredis';
import { describe, expect, test } from 'vitest';

// A connection through Sentinel must come back after a failover, however the announcement of the
// new primary falls. ioredis ends a client for good (status `end`, no more reconnects) when its
// connector is disconnected while it looks the primary up; its failover detector does exactly that
// on `+switch-master`, and on a loaded machine the lookup is slow enough to be caught (two CI runs
// lost a receiver that way). The lookups are slowed here so that the announcement lands in one.

const LOOKUP_MS = 2_000;

type Connector = { resolve: (endpoint: unknown) => Promise<unknown> };

describe.skipIf(!(await canStartRedisSentinel()))('a connection through Sentinel', () => {
  test.for(['producer', 'consumer'] as const)(
    '%s: a promotion announced while it looks the primary up does not end it',
    { timeout: 90_000 },
    async (role) => {
      const set = await startRedisSentinelSet();
      const client = createRedis(
        {
          mode: 'sentinel',
          sentinels: set.sentinels,
          name: set.name,
          password: undefined,
          sentinelPassword: undefined,
        },
        role,
      ) as Redis;
      client.on('error', () => {});
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

  test('a primary that hangs instead of dying: the connection gives up on it and reaches the promoted one', {
    timeout: 90_000,
  }, async () => {
    const set = await startRedisSentinelSet();
    const client = createRedis(
      { mode: 'sentinel', sentinels: set.sentinels, name: set.name, password: undefined, sentinelPassword: undefined },
      'consumer',
    ) as Redis;
    client.on('error', () => {});
    const hung = await set.primary();
    try {
      await expect.poll(() => client.status, { timeout: 10_000 }).toBe('ready');
      set.pause(hung);
      // Sent to the hung primary: no answer, and nothing closes the socket but the socket timeout.
      const started = Date.now();
      const answer = client.set('after-hang', 'yes');
      const promoted = await set.waitForPromotion(hung);
      expect(await answer.catch(() => 'resent and answered')).toMatch(/OK|resent and answered/);
      expect(Date.now() - started).toBeLessThan(SENTINEL_SOCKET_TIMEOUT_MS + 10_000);
      await expect
        .poll(async () => ((await client.call('ROLE').catch(() => [])) as unknown[])[0], {
          timeout: 20_000,
          interval: 200,
        })
        .toBe('master');
      expect(await client.set('on-the-promoted', 'yes')).toBe('OK');
      const onPromoted = await set.primary();
      expect(onPromoted).toEqual(promoted);
    } finally {
      set.resume(hung);
      client.disconnect();
      await set.dispose();
    }
  });
});
