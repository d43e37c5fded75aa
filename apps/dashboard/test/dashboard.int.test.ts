import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { currentCustomer, customerEvent } from '@flexprice/contracts/fixtures';
import { redisTest, runNode, uniquePrefix } from '@flexprice/testing';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { describe, expect } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createDashboard } from '../src/dashboard.js';

const USER = 'ops';
const PASSWORD = 'correct-horse-battery';
const auth = (user: string, password: string) => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});

/** Dashboards over a queue prefix of their own, with one waiting job in flexprice.customer. */
const test = redisTest.extend('dashboard', async ({ redis }, { onCleanup }) => {
  const prefix = uniquePrefix('dash');
  const cleanups: (() => Promise<unknown>)[] = [];
  onCleanup(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  const queue = new Queue('flexprice.customer', { connection: { url: redis.url }, prefix });
  cleanups.push(() => queue.close());
  await queue.add('customer.created', { event: customerEvent('customer.created', currentCustomer()) });

  const start = async (extra: Record<string, string> = {}) => {
    const config = loadConfig({
      REDIS_URL: redis.url,
      QUEUE_PREFIX: prefix,
      ADMIN_USERNAME: USER,
      ADMIN_PASSWORD: PASSWORD,
      ...extra,
    });
    if (!config.credentials) throw new Error('credentials expected');
    const dashboard = createDashboard({ ...config, credentials: config.credentials }, pino({ level: 'silent' }));
    const server = dashboard.app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await dashboard.close();
    });
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  return { start, queue };
});

describe('the admin dashboard', () => {
  test('answers 401 without credentials or with wrong ones, 200 with them', async ({ dashboard }) => {
    const url = await dashboard.start();
    const anonymous = await fetch(`${url}/admin/queues`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toContain('Basic');
    expect((await fetch(`${url}/admin/queues`, { headers: auth(USER, 'wrong-password!') })).status).toBe(401);
    expect((await fetch(`${url}/admin/queues/api/queues`)).status).toBe(401);

    const page = await fetch(`${url}/admin/queues`, { headers: auth(USER, PASSWORD) });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<html');
    const api = await fetch(`${url}/admin/queues/api/queues`, { headers: auth(USER, PASSWORD) });
    expect(api.status).toBe(200);
    const { queues } = (await api.json()) as { queues: { name: string; readOnlyMode: boolean }[] };
    expect(queues.map((q) => q.name)).toContain('flexprice.customer');
    expect(queues).toHaveLength(13);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    // Health without credentials, in the spellings Express matches too; nothing else is open.
    for (const path of ['/healthz/', '/READYZ', '/readyz']) {
      expect((await fetch(`${url}${path}`, { signal: AbortSignal.timeout(5_000) })).status, path).toBe(200);
    }
    expect((await fetch(`${url}/admin/queues/api/queues`)).status).toBe(401);

    // Not read-only: an operator can act, e.g. pause a queue.
    const pause = await fetch(`${url}/admin/queues/api/queues/flexprice.customer/pause`, {
      method: 'PUT',
      headers: auth(USER, PASSWORD),
    });
    expect(pause.status).toBe(200);
    expect(await dashboard.queue.isPaused()).toBe(true);
  });

  test('in read-only mode the queues say so and jobs cannot be acted on', async ({ dashboard }) => {
    const url = await dashboard.start({ ADMIN_READ_ONLY: 'true' });
    const api = await fetch(`${url}/admin/queues/api/queues`, { headers: auth(USER, PASSWORD) });
    const { queues } = (await api.json()) as { queues: { name: string; readOnlyMode: boolean }[] };
    expect(queues.every((q) => q.readOnlyMode)).toBe(true);
    const pause = await fetch(`${url}/admin/queues/api/queues/flexprice.customer/pause`, {
      method: 'PUT',
      headers: auth(USER, PASSWORD),
    });
    expect(pause.status).toBeGreaterThanOrEqual(400);
    expect(await dashboard.queue.isPaused()).toBe(false);
  });

  test('without credentials configured, the process says it is disabled and exits 0', async () => {
    const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
    const proc = runNode(main, { REDIS_URL: 'redis://127.0.0.1:1' });
    expect(await proc.exited).toBe(0);
    expect(proc.output()).toContain('dashboard disabled: set ADMIN_USERNAME and ADMIN_PASSWORD');
  });
});
