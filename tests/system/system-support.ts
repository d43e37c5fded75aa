import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { ENTITY_CATALOG, type EventType, familyOf, parseEventAs, valueAt } from '@flexprice/contracts';
import { currentCustomer, customerEvent, FAMILY_FIXTURES } from '@flexprice/contracts/fixtures';
import {
  type ForwardTarget,
  freePort,
  type RunningProcess,
  redisTest,
  runNode,
  signedHeaders,
  startForwardTarget,
  staticAuthHeaders,
  TEST_OTHER_SECRET,
  TEST_SECRET,
  TEST_STATIC_AUTH,
  type TestRedis,
  uniquePrefix,
} from '@flexprice/testing';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { expect } from 'vitest';

export const RECEIVER_MAIN = fileURLToPath(new URL('../../apps/receiver/dist/main.js', import.meta.url));
export const WORKER_MAIN = fileURLToPath(new URL('../../apps/worker/dist/main.js', import.meta.url));
export const DASHBOARD_MAIN = fileURLToPath(new URL('../../apps/dashboard/dist/main.js', import.meta.url));
export const DLQ_CLI = fileURLToPath(new URL('../../apps/worker/dist/cli/dlq.js', import.meta.url));
export const CUSTOMERS_CLI = fileURLToPath(new URL('../../apps/worker/dist/cli/customers.js', import.meta.url));
export const WEBHOOK_SECRET = TEST_SECRET;
/** What the worker processes sign their forwards with. */
export const FORWARD_SECRET = TEST_OTHER_SECRET;

/** The static header of self-hosted (native) Flexprice, as the receiver processes are configured. */
export const STATIC_AUTH = TEST_STATIC_AUTH;

export type AuthMode = 'signed' | 'static';

/**
 * POSTs one webhook body as Flexprice would: Svix-signed with a delivery id of its own, or natively
 * with the static header and no id at all.
 */
export async function postWebhook(
  port: number,
  body: object,
  auth: AuthMode,
  /** The `svix-id` (stable across the retries of one delivery); a new one when not given. */
  deliveryId = `msg_${randomUUID().replaceAll('-', '')}`,
): Promise<{ status: number; answer: { status?: string; id?: string } }> {
  const raw = JSON.stringify(body);
  const headers = auth === 'static' ? staticAuthHeaders() : signedHeaders(raw, { id: deliveryId });
  const res = await fetch(`http://127.0.0.1:${port}/webhooks/flexprice`, { method: 'POST', body: raw, headers });
  return { status: res.status, answer: (await res.json()) as { status?: string; id?: string } };
}

/** A customer's stored name and tombstone flag, read from Redis as the CLI would; undefined when none. */
export async function storedCustomer(
  client: Redis,
  storePrefix: string,
  id: string,
): Promise<{ name?: string; deleted: boolean } | undefined> {
  const [customer, deleted] = await client.hmget(`${storePrefix}:customer:${id}`, 'customer', 'deleted');
  const name = customer ? (JSON.parse(customer) as { name: string }).name : undefined;
  // A tombstone keeps no data: one that still has a name says so (and fails the tests that compare).
  if (deleted === '1') return name === undefined ? { deleted: true } : { name, deleted: true };
  return name === undefined ? undefined : { name, deleted: false };
}

/** Customer id `i` of a run, zero-padded so ids sort. */
export const customerId = (run: string, i: number) => `cust_${run}_${String(i).padStart(5, '0')}`;

export type Outcome =
  | { ok: true; status: number; answer: { status?: string; id?: string } }
  | { ok: false; error: string };

/** POSTs delivery `i` of a run, signed as Svix does (its `svix-id` is stable for that delivery). */
export async function deliver(port: number, run: string, i: number): Promise<Outcome> {
  const id = customerId(run, i);
  const event = customerEvent('customer.created', currentCustomer({ id, external_id: `ext-${id}` }));
  try {
    return { ok: true, ...(await postWebhook(port, event, 'signed', `msg_${id}`)) };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

/** Delivers `count` webhooks, `concurrency` at a time, calling `during(i)` before each batch. */
export async function deliverAll(
  port: number,
  run: string,
  count: number,
  options: { concurrency?: number; during?: (sent: number) => Promise<void> | void } = {},
): Promise<Map<number, Outcome>> {
  const concurrency = options.concurrency ?? 25;
  const outcomes = new Map<number, Outcome>();
  for (let start = 0; start < count; start += concurrency) {
    await options.during?.(start);
    const batch = Array.from({ length: Math.min(concurrency, count - start) }, (_, k) => start + k);
    const results = await Promise.all(batch.map((i) => deliver(port, run, i)));
    batch.forEach((i, k) => {
      const outcome = results[k];
      if (outcome) outcomes.set(i, outcome);
    });
  }
  return outcomes;
}

/** The deliveries the receiver acknowledged (202). */
export function acknowledged(outcomes: Map<number, Outcome>): number[] {
  return [...outcomes].filter(([, o]) => o.ok && o.status === 202).map(([i]) => i);
}

/**
 * Waits until the app on `port` answers /readyz with 200. On a timeout the error carries its last
 * answer and, given the process, the tail of what it wrote: why it was not ready.
 */
export async function waitReady(port: number, timeout = 15_000, proc?: Pick<RunningProcess, 'output'>): Promise<void> {
  let last = '';
  try {
    await expect
      .poll(
        () =>
          fetch(`http://127.0.0.1:${port}/readyz`).then(
            async (r) => {
              last = `${r.status} ${await r.text()}`;
              return r.status;
            },
            (error: Error) => {
              last = `no answer: ${error.message}`;
              return 0;
            },
          ),
        { timeout, interval: 100 },
      )
      .toBe(200);
  } catch (error) {
    // Its own /readyz lines (one per poll) would fill the tail: what it said otherwise.
    const said = proc
      ?.output()
      .split('\n')
      .filter((line) => !line.includes('"path":"/readyz"'));
    const tail = said ? `\n--- its output but /readyz, last 6000 characters ---\n${said.join('\n').slice(-6000)}` : '';
    throw new Error(`not ready on port ${port} within ${timeout} ms; /readyz: ${last}${tail}`, { cause: error });
  }
}

/** A built receiver process on a free port, its metrics on another. */
export async function startReceiverProcess(env: Record<string, string>) {
  const port = await freePort();
  const metricsPort = await freePort();
  const proc = runNode(RECEIVER_MAIN, {
    PORT: String(port),
    HOST: '127.0.0.1',
    RECEIVER_METRICS_PORT: String(metricsPort),
    RECEIVER_METRICS_HOST: '127.0.0.1',
    FLEXPRICE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    FLEXPRICE_WEBHOOK_AUTH_HEADER: STATIC_AUTH.header,
    FLEXPRICE_WEBHOOK_AUTH_TOKEN: STATIC_AUTH.token,
    LOG_LEVEL: 'warn',
    // Completed jobs kept, for the tests to count and read back (production removes them at once).
    JOB_KEEP_COMPLETED: '100000',
    ...env,
  });
  return { ...proc, port, metricsPort };
}

/** A built worker process forwarding to `forwardUrl`. */
export async function startWorkerProcess(env: Record<string, string>, forwardUrl: string) {
  return runNode(WORKER_MAIN, {
    WORKER_METRICS_HOST: '127.0.0.1',
    WORKER_METRICS_PORT: String(await freePort()),
    // The customer route's alias: a customer.* route ahead of the FORWARD_ROUTES a test gives.
    CUSTOMER_FORWARD_URL: forwardUrl,
    FORWARD_SECRET,
    // Short, like the locks of these tests: a killed worker's forward locks lapse in 4 s.
    FORWARD_TIMEOUT_MS: '2000',
    LOG_LEVEL: 'warn',
    ...env,
  });
}

/** The customers a target received, each with the webhook-ids it was forwarded with. */
export function forwardsByCustomer(target: Pick<ForwardTarget, 'received'>): Map<string, Set<string>> {
  const byCustomer = new Map<string, Set<string>>();
  for (const request of target.received) {
    const id = (JSON.parse(request.body) as { customer: { id: string } }).customer.id;
    const ids = byCustomer.get(id) ?? new Set<string>();
    ids.add(String(request.headers['webhook-id']));
    byCustomer.set(id, ids);
  }
  return byCustomer;
}

/**
 * A system under test on `redis`: its own prefixes, a forward target, built receiver and worker
 * processes started on demand with the given lock settings, and cleanup of all of them.
 */
export async function startSystem(redis: TestRedis, workerDefaults: Record<string, string> = {}) {
  const prefix = uniquePrefix('sys');
  const env = { REDIS_URL: redis.url, QUEUE_PREFIX: prefix, STORE_PREFIX: `${prefix}-store` };
  const target = await startForwardTarget(() => ({ status: 200, delayMs: 1 }));
  const queue = new Queue('flexprice.customer', { connection: { url: redis.url, maxRetriesPerRequest: null }, prefix });
  queue.on('error', () => {});
  const processes: { child: { kill: (signal: NodeJS.Signals) => boolean } }[] = [];
  return {
    env,
    target,
    queue,
    async receiver(extra: Record<string, string> = {}) {
      const proc = await startReceiverProcess({ ...env, ...extra });
      processes.push(proc);
      await waitReady(proc.port);
      return proc;
    },
    async worker(extra: Record<string, string> = {}) {
      const proc = await startWorkerProcess({ ...env, ...workerDefaults, ...extra }, target.url);
      processes.push(proc);
      return proc;
    },
    /** Forwards per customer id, and the webhook-ids each was forwarded with. */
    forwardsByCustomer: () => forwardsByCustomer(target),
    async close() {
      for (const proc of processes) proc.child.kill('SIGKILL');
      await queue.close().catch(() => undefined);
      await target.close();
    },
  };
}

export type System = Awaited<ReturnType<typeof startSystem>>;

function setAt(body: Record<string, unknown>, path: string, value: unknown): void {
  const segments = path.split('.');
  let parent = body;
  for (const segment of segments.slice(0, -1)) parent = parent[segment] as Record<string, unknown>;
  parent[segments.at(-1) as string] = value;
}

/** Whether the family's fixture for a type carries the payload time the catalog orders it by. */
export function carriesPayloadTime(type: EventType): boolean {
  const path = ENTITY_CATALOG[type].version;
  return path !== null && valueAt(fixtureOf(type), path) !== undefined;
}

/** The family's fixture of this very type (as Flexprice shapes it), else the first one that parses as it. */
function fixtureOf(type: EventType): Record<string, unknown> {
  const candidates = FAMILY_FIXTURES[familyOf(type)] as Record<string, unknown>[];
  const fixture =
    candidates.find((body) => body.event_type === type) ??
    candidates.find((body) => parseEventAs(type, { ...body, event_type: type }).ok);
  if (!fixture) throw new Error(`no fixture of ${familyOf(type)} parses as ${type}`);
  return fixture;
}

/**
 * A realistic body of `type` about entity `id`, carrying `test_seq: seq` at the top level (the
 * schemas keep unknown fields) and, where its fixture has a payload time, one that grows with seq.
 */
export function familyBody(type: EventType, id: string, seq: number): Record<string, unknown> {
  const body = structuredClone({ ...fixtureOf(type), event_type: type }) as Record<string, unknown>;
  const { id: idPath, version } = ENTITY_CATALOG[type];
  if (idPath !== null) setAt(body, idPath, id);
  if (version !== null && carriesPayloadTime(type)) {
    setAt(body, version, new Date(Date.UTC(2026, 7, 20, 10) + seq * 1000).toISOString());
  }
  body.test_seq = seq;
  return body;
}

/**
 * `test` with a system on the file's Redis (`startSystem`, workers started with `workerDefaults`)
 * and a client of that Redis, `system.client`, for reading what the apps wrote.
 */
export function systemTestWithClient(workerDefaults: Record<string, string> = {}) {
  return redisTest.extend('system', async ({ redis }, { onCleanup }) => {
    const system = await startSystem(redis, workerDefaults);
    const client = new Redis(redis.url);
    onCleanup(async () => {
      client.disconnect();
      await system.close();
    });
    return Object.assign(system, { client });
  });
}
