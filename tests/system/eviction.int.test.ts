import { freePort, metricValue, runNode, spawnRedisServer, type TestRedis, uniquePrefix } from '@flexprice/testing';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, test } from 'vitest';
import {
  DASHBOARD_MAIN,
  RECEIVER_MAIN,
  startReceiverProcess,
  startWorkerProcess,
  WORKER_MAIN,
  waitReady,
} from './system-support.js';

// Issue 20, item 2: on a Redis that may evict keys (`volatile-lru`, the default of several managed
// services) every app reported ready, and under memory pressure the order marks (they carry a TTL)
// were evicted and an older invoice state was forwarded after a newer one had been acknowledged.
// Each app now refuses to start on any policy but noeviction, and one that changes while they run
// turns /readyz to 503 and sets flexprice_redis_eviction_unsafe. Each Redis here is the test's own:
// its policy is changed, which no test may do to a Redis it did not start.

const ADMIN = { ADMIN_USERNAME: 'ops', ADMIN_PASSWORD: 'eviction-test-password' };
const servers: TestRedis[] = [];
afterAll(async () => {
  for (const server of servers) await server.dispose();
});

async function redisWith(policy: string): Promise<TestRedis> {
  const server = await spawnRedisServer('redis-server', { extraArgs: ['--maxmemory-policy', policy] });
  servers.push(server);
  return server;
}

describe('a Redis that may evict keys', () => {
  test('receiver, worker and dashboard refuse to start on volatile-lru, naming maxmemory-policy and the fix', {
    timeout: 60_000,
  }, async () => {
    const redis = await redisWith('volatile-lru');
    const prefix = uniquePrefix('evict');
    const env = { REDIS_URL: redis.url, QUEUE_PREFIX: prefix, LOG_LEVEL: 'warn' };
    const apps = [
      runNode(RECEIVER_MAIN, {
        ...env,
        FLEXPRICE_WEBHOOK_AUTH: 'none',
        PORT: String(await freePort()),
        RECEIVER_METRICS_PORT: String(await freePort()),
      }),
      runNode(WORKER_MAIN, { ...env, STORE_PREFIX: `${prefix}-store`, WORKER_METRICS_PORT: String(await freePort()) }),
      runNode(DASHBOARD_MAIN, { ...env, ...ADMIN, ADMIN_PORT: String(await freePort()) }),
    ];
    try {
      for (const app of apps) {
        expect(await app.exited, app.output()).toBe(1);
        expect(app.output()).toContain('Invalid configuration:');
        expect(app.output()).toContain(`Redis (${redis.url}): maxmemory-policy is volatile-lru`);
        expect(app.output()).toContain('set maxmemory-policy noeviction');
      }
    } finally {
      for (const app of apps) app.child.kill('SIGKILL');
    }
  });

  test('a policy changed while they run turns /readyz to 503 with the reason, and sets the gauge; back to noeviction, ready again', {
    timeout: 90_000,
  }, async () => {
    const redis = await redisWith('noeviction');
    const admin = new Redis(redis.url);
    const prefix = uniquePrefix('evict');
    const env = { REDIS_URL: redis.url, QUEUE_PREFIX: prefix, STORE_PREFIX: `${prefix}-store` };
    const workerPort = await freePort();
    const dashboardPort = await freePort();
    const receiver = await startReceiverProcess(env);
    const worker = await startWorkerProcess(
      { ...env, WORKER_METRICS_PORT: String(workerPort) },
      `http://127.0.0.1:${await freePort()}/customers`,
    );
    const dashboard = runNode(DASHBOARD_MAIN, {
      ...env,
      ...ADMIN,
      ADMIN_PORT: String(dashboardPort),
      ADMIN_HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    });
    // The receiver says why on its metrics port; its webhook port only that it is not ready.
    const ports = [receiver.metricsPort, workerPort, dashboardPort];
    const readyz = (port: number) =>
      fetch(`http://127.0.0.1:${port}/readyz`).then(async (r) => `${r.status} ${await r.text()}`);
    const gauges = () =>
      Promise.all(
        [receiver.metricsPort, workerPort].map(async (port) =>
          metricValue(
            await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
            'flexprice_redis_eviction_unsafe',
          ),
        ),
      );
    try {
      await waitReady(receiver.port, 15_000, receiver);
      await waitReady(workerPort, 15_000, worker);
      await waitReady(dashboardPort, 15_000, dashboard);
      expect(await gauges()).toEqual([0, 0]);

      await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
      for (const port of ports) {
        await expect.poll(() => readyz(port), { timeout: 10_000 }).toMatch(/^503 /);
        expect(await readyz(port)).toContain('redis_eviction: maxmemory-policy is allkeys-lru');
        expect(await readyz(port)).toContain('set maxmemory-policy noeviction');
      }
      expect(await readyz(receiver.port)).toBe('503 {"status":"unavailable"}');
      expect(await gauges()).toEqual([1, 1]);

      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      for (const port of [receiver.port, ...ports]) await waitReady(port, 10_000);
      expect(await gauges()).toEqual([0, 0]);
    } finally {
      for (const proc of [receiver, worker, dashboard]) proc.child.kill('SIGKILL');
      admin.disconnect();
    }
  });
});
