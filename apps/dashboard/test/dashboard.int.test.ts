import { once } from 'node:events';
import { type AddressInfo, connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { QUEUE_NAMES } from '@flexprice/contracts';
import { currentCustomer, customerEvent } from '@flexprice/contracts/fixtures';
import { freePort, redisTest, runNode, uniquePrefix } from '@flexprice/testing';
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

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));

/** Dashboards over a queue prefix of their own, with one waiting job in flexprice.customer. */
const test = redisTest.extend('dashboard', async ({ redis }, { onCleanup }) => {
  const prefix = uniquePrefix('dash');
  const cleanups: (() => Promise<unknown>)[] = [];
  onCleanup(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  const queue = new Queue('flexprice.customer', { connection: { url: redis.url }, prefix });
  cleanups.push(() => queue.close());
  const job = await queue.add('customer.created', { event: customerEvent('customer.created', currentCustomer()) });
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });

  const start = async (extra: Record<string, string> = {}) => {
    const config = loadConfig({
      REDIS_URL: redis.url,
      QUEUE_PREFIX: prefix,
      ADMIN_USERNAME: USER,
      ADMIN_PASSWORD: PASSWORD,
      ...extra,
    });
    if (!config.credentials) throw new Error('credentials expected');
    const dashboard = createDashboard({ ...config, credentials: config.credentials }, logger);
    const server = dashboard.createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await dashboard.close();
    });
    // Slow clients are cut off: Node's defaults would wait 60 s for headers and 300 s for a request.
    expect(server.headersTimeout).toBeLessThanOrEqual(10_000);
    expect(server.requestTimeout).toBeLessThanOrEqual(30_000);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  return { start, queue, job, lines };
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
    // Every queue of the catalog: the 13 families' and the reconciler's.
    expect(queues.map((q) => q.name).sort()).toEqual([...QUEUE_NAMES].sort());
    expect(queues.map((q) => q.name)).toContain('flexprice.sync');
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

  test('refuses to add a job or edit its data (they would skip the receiver), keeps clean and retry', async ({
    dashboard,
  }) => {
    const url = await dashboard.start();
    const api = `${url}/admin/queues/api/queues/flexprice.customer`;
    const json = { ...auth(USER, PASSWORD), 'content-type': 'application/json' };
    const forged = { name: 'customer.created', data: { event: { event_type: 'customer.created' } }, options: {} };
    const add = await fetch(`${api}/add`, { method: 'POST', headers: json, body: JSON.stringify(forged) });
    expect(add.status).toBe(403);
    expect(await add.text()).toContain('jobs are queued by the receiver only');
    const id = String(dashboard.job.id);
    const edit = await fetch(`${api}/${id}/update-data`, {
      method: 'PATCH',
      headers: json,
      body: JSON.stringify({ data: { event: { event_type: 'customer.deleted' } } }),
    });
    expect(edit.status).toBe(403);
    expect(await dashboard.queue.getJobCounts('waiting')).toEqual({ waiting: 1 });
    expect((await dashboard.queue.getJob(id))?.data).toEqual(dashboard.job.data);
    // What an operator does with the jobs the receiver queued still works.
    const clean = await fetch(`${api}/${id}/clean`, { method: 'PUT', headers: auth(USER, PASSWORD) });
    expect(clean.status).toBe(204);
    expect(await dashboard.queue.getJob(id)).toBeUndefined();
    const retry = await fetch(`${api}/retry/failed`, { method: 'PUT', headers: auth(USER, PASSWORD) });
    expect(retry.status).toBe(200);
  });

  test('after ADMIN_LOGIN_ATTEMPTS failed logins a client gets 429 with Retry-After, right password or not', async ({
    dashboard,
  }) => {
    const url = await dashboard.start({ ADMIN_LOGIN_ATTEMPTS: '3', ADMIN_LOGIN_WINDOW: '1m' });
    const page = (headers: Record<string, string> = {}) => fetch(`${url}/admin/queues/api/queues`, { headers });
    // A request without credentials guesses nothing (a browser's first one): not counted.
    for (let i = 0; i < 5; i++) expect((await page()).status).toBe(401);
    for (let i = 0; i < 3; i++) expect((await page(auth(USER, `wrong-${i}-password`))).status).toBe(401);
    const limited = await page(auth(USER, 'wrong-3-password'));
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    // The right password is refused as well: a 429 says nothing about a guess.
    expect((await page(auth(USER, PASSWORD))).status).toBe(429);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const said = dashboard.lines.map((line) => line.msg);
    expect(said.filter((msg) => msg === 'dashboard login failed')).toHaveLength(3);
    expect(said.filter((msg) => msg === 'dashboard logins refused: too many failures')).toHaveLength(1);
    expect(dashboard.lines.find((line) => line.msg === 'dashboard login failed')).toMatchObject({
      ip: expect.any(String),
    });
    expect(JSON.stringify(dashboard.lines)).not.toMatch(/wrong-\d-password|correct-horse/);
  });

  test('the built process listens on loopback only by default, and limits failed logins', async ({ redis }) => {
    const port = await freePort();
    const proc = runNode(MAIN, {
      REDIS_URL: redis.url,
      QUEUE_PREFIX: uniquePrefix('dash'),
      ADMIN_PORT: String(port),
      ADMIN_USERNAME: USER,
      ADMIN_PASSWORD: PASSWORD,
      ADMIN_LOGIN_ATTEMPTS: '5',
    });
    try {
      await expect.poll(proc.output, { timeout: 10_000 }).toContain('dashboard listening');
      expect.soft(proc.output()).toContain('"host":"127.0.0.1"');
      // Another address of this machine (127.0.0.2 is loopback too) finds nothing listening.
      const reach = (host: string) =>
        new Promise<string>((resolve) => {
          const socket = connect(port, host);
          socket.once('connect', () => {
            socket.destroy();
            resolve('connected');
          });
          socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
        });
      expect.soft(await reach('127.0.0.2')).toBe('ECONNREFUSED');
      expect(await reach('127.0.0.1')).toBe('connected');
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++) {
        const res = await fetch(`http://127.0.0.1:${port}/admin/queues`, {
          headers: auth(USER, `guess-${i}-password`),
        });
        statuses.push(res.status);
      }
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
    } finally {
      proc.child.kill('SIGKILL');
      await proc.exited;
    }
  });
});
