import { currentCustomer, customerEvent, legacyCustomer } from '@flexprice/contracts/fixtures';
import { type Received, runNode } from '@flexprice/testing';
import type { Redis } from 'ioredis';
import { describe, expect } from 'vitest';
import {
  type AuthMode,
  CUSTOMERS_CLI,
  DLQ_CLI,
  postWebhook,
  type System,
  storedCustomer,
  systemTestWithClient,
} from './system-support.js';

// Customer state never goes backwards: whatever the number of workers, their concurrency, retries
// that overtake, replays of dead letters, in both delivery modes. Built receiver and worker
// processes, a real Redis, a forward target that records every request and what it answered.

/** Rounds of the race per delivery mode, and customers per round (`pnpm test:soak` raises both). */
const ROUNDS = Number(process.env.ORDERING_ROUNDS ?? 5);
const CUSTOMERS = Number(process.env.ORDERING_CUSTOMERS ?? 40);
const EVENTS_PER_CUSTOMER = 10;

// Retries come back fast (50 ms, doubling), so that they overtake newer deliveries.
const test = systemTestWithClient({ WORKER_STALLED_INTERVAL_MS: '1000' });

type Event = ReturnType<typeof customerEvent>;
type CustomerType = 'customer.created' | 'customer.updated' | 'customer.deleted';
const event = (type: CustomerType, overrides: Record<string, unknown>): Event =>
  customerEvent(type, currentCustomer(overrides));

/** The customer a forwarded body is about, and the state (its name) it carries. */
function forwarded(request: Received): { id: string; name: string; type: string; status: number } {
  const body = JSON.parse(request.body) as { event_type: string; customer: { id: string; name: string } };
  return { id: body.customer.id, name: body.customer.name, type: body.event_type, status: request.status };
}

/** Every request the target got for one customer, in arrival order. */
function forwardsOf(system: System, id: string) {
  return system.target.received.map(forwarded).filter((f) => f.id === id);
}

/** The stored record of a customer (`{ name: undefined }` when there is none). */
async function stored(system: System & { client: Redis }, id: string) {
  const customer = await storedCustomer(system.client, system.env.STORE_PREFIX, id);
  return { name: customer?.name, deleted: customer?.deleted ?? false };
}

/** Every id in the live external-id index, under every (environment, external id) key. */
async function liveIndex(system: System & { client: Redis }): Promise<Record<string, string[]>> {
  const keys = await system.client.keys(`${system.env.STORE_PREFIX}:customer-ids:*`);
  const entries = await Promise.all(
    keys.map(async (key): Promise<[string, string[]]> => [key, (await system.client.smembers(key)).sort()]),
  );
  return Object.fromEntries(entries.filter(([, ids]) => ids.length > 0));
}

/** Waits until no job waits, runs or is delayed, and `total` jobs have ended (completed or failed). */
async function drained(system: System, total: number, timeout = 60_000) {
  await expect
    .poll(
      async () => {
        const c = await system.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed');
        const n = (state: string) => c[state] ?? 0;
        return (
          n('waiting') + n('active') + n('delayed') + n('prioritized') === 0 && n('completed') + n('failed') >= total
        );
      },
      { timeout, interval: 100 },
    )
    .toBe(true);
}

async function accept(port: number, body: Event, auth: AuthMode = 'signed') {
  const { status, answer } = await postWebhook(port, body, auth);
  expect({ status, answer: answer.status }).toEqual({ status: 202, answer: 'queued' });
  return answer.id ?? '';
}

async function cli(system: System, script: string, args: string[]) {
  const proc = runNode(script, system.env, args);
  const code = await proc.exited;
  return { code, output: proc.output() };
}

describe('races: several workers, high concurrency, a backlog, retries that overtake', () => {
  for (const auth of ['signed', 'static'] as const) {
    test(`${auth}: ${CUSTOMERS} customers × ${EVENTS_PER_CUSTOMER} events drained by 3 workers at concurrency 64, ${ROUNDS}×: every customer ends on its last delivery, at the store and the target`, {
      timeout: 60_000 * ROUNDS,
    }, async ({ system }) => {
      const receiver = await system.receiver({
        JOB_BACKOFF_MS: '100',
        // Retries come back soon; enough of them to span the 30 s the receiver asks for.
        JOB_ATTEMPTS: '20',
        JOB_KEEP_COMPLETED: '100000',
      });
      // One request in ten answers 503 and is retried: retried forwards race newer ones.
      let requests = 0;
      system.target.setResponder(() => ({ status: ++requests % 10 === 0 ? 503 : 200, delayMs: requests % 3 }));
      let total = 0;
      for (let round = 0; round < ROUNDS; round += 1) {
        const ids = Array.from({ length: CUSTOMERS }, (_, i) => `cust_race_${auth}_${round}_${i}`);
        // Workers are stopped: a backlog builds. Each customer's deliveries are sent in order, each
        // after the previous one's 202, as Flexprice would; the customers go in parallel.
        await Promise.all(
          ids.map(async (id) => {
            for (let k = 0; k < EVENTS_PER_CUSTOMER; k += 1) {
              await accept(
                receiver.port,
                event(k === 0 ? 'customer.created' : 'customer.updated', { id, name: `u${k}` }),
                auth,
              );
            }
          }),
        );
        total += ids.length * EVENTS_PER_CUSTOMER;
        const workers = await Promise.all([1, 2, 3].map(() => system.worker({ WORKER_CONCURRENCY: '64' })));
        await drained(system, total);
        for (const worker of workers) worker.child.kill('SIGKILL');

        const last = `u${EVENTS_PER_CUSTOMER - 1}`;
        const wrong: string[] = [];
        for (const id of ids) {
          const store = await stored(system, id);
          const seen = forwardsOf(system, id);
          const acked = seen.filter((f) => f.status === 200);
          if (store.name !== last) wrong.push(`${id}: store on ${store.name}`);
          if (acked.at(-1)?.name !== last) wrong.push(`${id}: target acknowledged last ${acked.at(-1)?.name}`);
          // Never an older state after a newer one was sent, acknowledged or not: a customer state
          // is stored before it is forwarded, so an older one is stale by then.
          let newest = -1;
          for (const f of seen) {
            const k = Number(f.name.slice(1));
            if (k < newest) wrong.push(`${id}: ${f.name} sent after u${newest}`);
            newest = Math.max(newest, k);
          }
        }
        expect(wrong).toEqual([]);
        expect((await system.queue.getJobCounts('failed')).failed).toBe(0);
      }
    });
  }
});

describe('each way state used to go backwards', () => {
  test('native: W, X, Y, X ends on X (a return to an earlier state is not a duplicate)', async ({ system }) => {
    const receiver = await system.receiver();
    const id = 'cust_wxyx';
    const names = ['W', 'X', 'Y', 'X'];
    for (const [k, name] of names.entries()) {
      await accept(receiver.port, event(k === 0 ? 'customer.created' : 'customer.updated', { id, name }), 'static');
    }
    await system.worker();
    await drained(system, names.length);
    expect(await stored(system, id)).toEqual({ name: 'X', deleted: false });
    expect(
      forwardsOf(system, id)
        .filter((f) => f.status === 200)
        .at(-1)?.name,
    ).toBe('X');
  });

  test('a retried forward never overtakes a newer one: created 503, deleted 200, and the retry is dropped', async ({
    system,
  }) => {
    // The created retry comes 2.5-5 s later: well after the deletion, even on a loaded machine.
    const receiver = await system.receiver({ JOB_BACKOFF_MS: '5000' });
    await system.worker();
    const id = 'cust_overtake';
    system.target.setResponder((n) => ({ status: n === 0 ? 503 : 200 }));
    await accept(receiver.port, event('customer.created', { id, name: 'Live' }));
    // The worker process has just been started: give it time to come up on a loaded machine.
    await expect.poll(() => system.target.received.length, { timeout: 15_000 }).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await accept(receiver.port, event('customer.deleted', { id, name: 'Gone' }));
    await drained(system, 2);

    expect(forwardsOf(system, id).map((f) => `${f.type} ${f.status}`)).toEqual([
      'customer.created 503',
      'customer.deleted 200',
    ]);
    expect(await stored(system, id)).toEqual({ name: undefined, deleted: true });
    const jobs = await system.queue.getJobs(['completed']);
    const retried = jobs.find((job) => job.name === 'customer.created');
    expect(retried?.attemptsMade).toBe(2); // one failed try; the second completed without a forward
    expect(retried?.returnvalue).toEqual({ outcome: 'skipped_tombstone', forwarded: 'skipped' });
  });

  test('pnpm dlq retry days later never rolls back: a dead-lettered Old after New is dropped', async ({ system }) => {
    const receiver = await system.receiver();
    await system.worker();
    const id = 'cust_replay';
    system.target.setResponder((n) => ({ status: n === 0 ? 400 : 200 }));
    await accept(receiver.port, event('customer.created', { id, name: 'Old' }));
    await drained(system, 1);
    expect((await system.queue.getJobCounts('failed')).failed).toBe(1);
    await accept(receiver.port, event('customer.updated', { id, name: 'New' }));
    await drained(system, 2);

    const retry = await cli(system, DLQ_CLI, ['retry', '--all']);
    expect(retry.code).toBe(0);
    await expect
      .poll(async () => (await system.queue.getJobCounts('completed')).completed, { timeout: 15_000 })
      .toBe(2);
    expect(forwardsOf(system, id).map((f) => `${f.name} ${f.status}`)).toEqual(['Old 400', 'New 200']);
    expect(await stored(system, id)).toEqual({ name: 'New', deleted: false });
  });

  test('the external-id index names the live customer: B created, a late A created, A deleted → B', async ({
    system,
  }) => {
    const receiver = await system.receiver();
    await system.worker();
    const ext = 'shared-ext';
    await accept(receiver.port, event('customer.created', { id: 'cust_B', external_id: ext, name: 'B' }));
    await accept(receiver.port, event('customer.created', { id: 'cust_A', external_id: ext, name: 'A' }));
    await accept(receiver.port, event('customer.deleted', { id: 'cust_A', external_id: ext, name: 'A' }));
    await drained(system, 3);

    const found = await cli(system, CUSTOMERS_CLI, ['find', '--external-id', ext]);
    expect(found.code).toBe(0);
    expect((JSON.parse(found.output) as { id: string }[]).map((c) => c.id)).toEqual(['cust_B']);
    // The index itself is cleaned (not only filtered on the way out): it names B alone.
    expect(Object.values(await liveIndex(system))).toEqual([['cust_B']]);

    await accept(receiver.port, event('customer.deleted', { id: 'cust_B', external_id: ext, name: 'B' }));
    await drained(system, 4);
    expect(await liveIndex(system)).toEqual({});
    const none = await cli(system, CUSTOMERS_CLI, ['find', '--external-id', ext]);
    expect(none).toMatchObject({
      code: 1,
      output: expect.stringContaining('no live customer with external id shared-ext'),
    });
    // Tombstones keep nothing personal: no data, and the external id is in no record and no key.
    const tombstone = await cli(system, CUSTOMERS_CLI, ['get', 'cust_A']);
    expect(tombstone.code).toBe(0);
    expect(JSON.parse(tombstone.output)).toMatchObject({ id: 'cust_A', deleted: true, externalId: '', customer: {} });
    const keys = await system.client.keys(`${system.env.STORE_PREFIX}:*`);
    expect(keys.filter((key) => key.includes(ext))).toEqual([]);
    for (const key of keys.filter((k) => k.includes(':customer:'))) {
      expect(JSON.stringify(await system.client.hgetall(key))).not.toContain(ext);
    }
  });

  test("ids containing ':' are kept apart in the index: (env:a, b) and (env, a:b) are two keys", async ({ system }) => {
    const receiver = await system.receiver();
    await system.worker();
    const pairs = [
      { id: 'cust_colon_1', environment_id: 'env:a', external_id: 'b' },
      { id: 'cust_colon_2', environment_id: 'env', external_id: 'a:b' },
    ];
    for (const pair of pairs) await accept(receiver.port, event('customer.created', { ...pair, name: pair.id }));
    await drained(system, 2);
    const index = await liveIndex(system);
    expect(Object.values(index).sort()).toEqual([['cust_colon_1'], ['cust_colon_2']]);
    for (const { id, environment_id, external_id } of pairs) {
      const found = await cli(system, CUSTOMERS_CLI, [
        'find',
        '--external-id',
        external_id,
        '--environment',
        environment_id,
      ]);
      expect(found.code).toBe(0);
      expect((JSON.parse(found.output) as { id: string }[]).map((c) => c.id)).toEqual([id]);
    }
  });

  test('legacy updated_at is compared in microseconds: .123900 then .123100 keeps .123900', async ({ system }) => {
    const receiver = await system.receiver();
    const id = 'cust_micros';
    const legacy = (name: string, updatedAt: string) =>
      customerEvent('customer.updated', legacyCustomer({ id, name, updated_at: updatedAt }));
    await accept(receiver.port, legacy('Newer', '2026-06-02T10:00:00.123900Z'));
    await accept(receiver.port, legacy('Older', '2026-06-02T10:00:00.123100Z'));
    await system.worker();
    await drained(system, 2);
    expect(await stored(system, id)).toEqual({ name: 'Newer', deleted: false });
    expect(forwardsOf(system, id).map((f) => f.name)).toEqual(['Newer']);
  });
});

describe('erasure on request (pnpm customers erase)', () => {
  test('a live customer: its data, index entry and finished jobs go; it stays deleted whatever arrives later', {
    timeout: 60_000,
  }, async ({ system }) => {
    const receiver = await system.receiver();
    await system.worker();
    const id = 'cust_erase';
    const ext = 'erase-me@acme.test';
    await accept(receiver.port, event('customer.created', { id, external_id: ext, name: 'Erase Me' }));
    await accept(receiver.port, event('customer.created', { id: 'cust_keep', external_id: 'keep', name: 'Keep' }));
    await drained(system, 2);

    const erased = await cli(system, CUSTOMERS_CLI, ['erase', id]);
    expect(erased.code).toBe(0);
    expect(JSON.parse(erased.output)).toEqual({ id, recordExisted: true, jobsRemoved: 1, jobsPending: 0 });
    expect(await stored(system, id)).toEqual({ name: undefined, deleted: true });
    const keys = await system.client.keys(`${system.env.STORE_PREFIX}:*`);
    expect(keys.filter((key) => key.includes(encodeURIComponent(ext)))).toEqual([]);
    expect(JSON.stringify(await system.client.hgetall(`${system.env.STORE_PREFIX}:customer:${id}`))).not.toContain(
      'Erase Me',
    );
    // The other customer and its job are untouched.
    expect(await stored(system, 'cust_keep')).toEqual({ name: 'Keep', deleted: false });
    expect((await system.queue.getJobCounts('completed')).completed).toBe(1);

    // A replay of the old data after the erasure stores nothing.
    await accept(receiver.port, event('customer.updated', { id, external_id: ext, name: 'Erase Me again' }));
    await drained(system, 2);
    expect(await stored(system, id)).toEqual({ name: undefined, deleted: true });
    expect(forwardsOf(system, id).map((f) => f.name)).toEqual(['Erase Me']);
  });

  test('--tombstones strips the tombstones an older version wrote with the data and the deleted index', async ({
    system,
  }) => {
    const prefix = system.env.STORE_PREFIX;
    const old = { id: 'cust_old', external_id: 'old@acme.test', environment_id: 'env_1', name: 'Old Data' };
    await system.client.hset(`${prefix}:customer:cust_old`, {
      id: 'cust_old',
      environment_id: 'env_1',
      external_id: old.external_id,
      customer: JSON.stringify(old),
      deleted: '1',
      version: `1.${'0'.repeat(20)}.${'0'.repeat(17)}.job1`,
    });
    await system.client.sadd(`${prefix}:customer-ids-deleted:env_1:${encodeURIComponent(old.external_id)}`, 'cust_old');
    const run = await cli(system, CUSTOMERS_CLI, ['erase', '--tombstones']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.output)).toEqual({ tombstonesStripped: 1 });
    const record = await system.client.hgetall(`${prefix}:customer:cust_old`);
    expect(record).toMatchObject({ id: 'cust_old', deleted: '1', environment_id: 'env_1' });
    expect(JSON.stringify(record)).not.toContain('acme.test');
    expect(await system.client.keys(`${prefix}:customer-ids-deleted:*`)).toEqual([]);
  });

  test('usage: an id or --tombstones, not both, not neither', async ({ system }) => {
    expect((await cli(system, CUSTOMERS_CLI, ['erase'])).code).toBe(2);
    expect((await cli(system, CUSTOMERS_CLI, ['erase', 'cust_x', '--tombstones'])).code).toBe(2);
  });
});
