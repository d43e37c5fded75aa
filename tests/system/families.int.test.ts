import {
  ENTITY_CATALOG,
  EVENT_TYPES,
  type EventType,
  entityIdOf,
  FAMILIES,
  type Family,
  familyOf,
  queueNameOf,
  VERSION_PATTERN,
} from '@flexprice/contracts';
import { FAMILY_FIXTURES } from '@flexprice/contracts/fixtures';
import { type EntityTarget, freePort, newTestSecret, redisTest, runNode, startEntityTarget } from '@flexprice/testing';
import { Queue } from 'bullmq';
import { Webhook } from 'standardwebhooks';
import { describe, expect } from 'vitest';
import {
  type AuthMode,
  carriesPayloadTime,
  FORWARD_SECRET,
  familyBody,
  postWebhook,
  RECEIVER_MAIN,
  STATIC_AUTH,
  type System,
  startSystem,
  WORKER_MAIN,
} from './system-support.js';

// Every family to its route, through built receiver and worker processes and a real Redis: signed
// as Standard Webhooks says (checked with the official library), ordered per entity with any number
// of workers, a failing entity holding up only itself, and no queue that nobody drains.

const ROTATING_SECRET = newTestSecret();

const test = redisTest.extend('system', async ({ redis }, { onCleanup }) => {
  const routes = await startEntityTarget();
  const system = await startSystem(redis);
  const routing = {
    ENQUEUE_EVENTS: '*',
    FORWARD_ROUTES: `*=${routes.url}`,
  };
  const queues = new Map<Family, Queue>();
  onCleanup(async () => {
    for (const queue of queues.values()) await queue.close();
    await system.close();
    await routes.close();
  });
  return Object.assign(system, {
    routes,
    /** Receivers and workers of this system share ENQUEUE_EVENTS and FORWARD_ROUTES, as compose has them. */
    routedReceiver: (extra: Record<string, string> = {}) => system.receiver({ ...routing, ...extra }),
    routedWorker: (extra: Record<string, string> = {}) =>
      system.worker({ ...routing, FORWARD_SECRET: `${FORWARD_SECRET} ${ROTATING_SECRET}`, ...extra }),
    queueOf(family: Family) {
      const known = queues.get(family);
      if (known) return known;
      const queue = new Queue(queueNameOf(family), {
        connection: { url: redis.url, maxRetriesPerRequest: null },
        prefix: system.env.QUEUE_PREFIX,
      });
      queue.on('error', () => {}); // a Redis the test stops on purpose is not the test's failure
      queues.set(family, queue);
      return queue;
    },
  });
});

type RoutedSystem = System & {
  routes: EntityTarget;
  queueOf(family: Family): Queue;
};

/** Waits until every family's queue has `total` ended jobs and none waiting, running or delayed. */
async function drained(system: RoutedSystem, families: readonly Family[], total: number, timeout = 60_000) {
  await expect
    .poll(
      async () => {
        let ended = 0;
        let pending = 0;
        for (const family of families) {
          const c = await system
            .queueOf(family)
            .getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed');
          ended += (c.completed ?? 0) + (c.failed ?? 0);
          pending += (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0);
        }
        return { ended, pending };
      },
      { timeout, interval: 200 },
    )
    .toEqual({ ended: total, pending: 0 });
}

async function failedCount(system: RoutedSystem, families: readonly Family[]): Promise<number> {
  const counts = await Promise.all(families.map((family) => system.queueOf(family).getFailedCount()));
  return counts.reduce((sum, n) => sum + n, 0);
}

/** Runs `tasks` with at most `limit` at once. */
async function pool<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < tasks.length) {
        const index = next++;
        results[index] = await (tasks[index] as () => Promise<T>)();
      }
    }),
  );
  return results;
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

describe('every family, forwarded', () => {
  test('one event of each of the 57 types: each forwarded once, signed (both secrets verify), as sent', {
    timeout: 60_000,
  }, async ({ system }) => {
    const receiver = await system.routedReceiver();
    await system.routedWorker();
    const sent = new Map<string, { type: EventType; body: Record<string, unknown> }>();
    for (const type of EVENT_TYPES) {
      const body = familyBody(type, `${type.replaceAll('.', '_')}_1`, 1);
      const svixId = `msg_all_${type.replaceAll('.', '_')}`;
      expect((await postWebhook(receiver.port, body, 'signed', svixId)).status).toBe(202);
      sent.set(`id-${svixId}`, { type, body });
    }
    // A natively delivered spend alert has no event_type: it is forwarded with the inferred one added.
    const [nativeAlert] = FAMILY_FIXTURES.spend_alert;
    expect((await postWebhook(receiver.port, nativeAlert as object, 'static')).status).toBe(202);

    const customers = 3;
    await expect.poll(() => system.routes.requests.length, { timeout: 30_000, interval: 200 }).toBe(57 - customers + 1);
    await expect.poll(() => system.target.received.length, { timeout: 30_000, interval: 200 }).toBe(customers);
    // Every job ended (nothing still retrying), and still one forward each.
    await drained(system, FAMILIES, 57 + 1);
    expect(system.routes.requests).toHaveLength(57 - customers + 1);
    expect(system.target.received).toHaveLength(customers);
    expect(await failedCount(system, FAMILIES)).toBe(0);

    for (const request of system.routes.requests) {
      const headers = request.headers as Record<string, string>;
      for (const secret of [FORWARD_SECRET, ROTATING_SECRET]) {
        expect(() => new Webhook(secret).verify(request.body, headers), request.eventType).not.toThrow();
      }
      expect(headers['x-request-id'], request.eventType).toMatch(/\S/);
      // The fencing token of every forward (docs/extending.md#ordering): a worker that paused past
      // its forward lock can still send an older state late, and only these tell the target.
      expect(headers['x-entity-version'], request.eventType).toMatch(VERSION_PATTERN);
      expect(headers['x-entity-version-clock'], request.eventType).toMatch(/^(payload|receipt)$/);
      const expected = sent.get(headers['webhook-id'] ?? '');
      if (expected) {
        expect(request.eventType).toBe(expected.type);
        expect(JSON.parse(request.body)).toEqual(expected.body);
      } else {
        expect(JSON.parse(request.body)).toEqual({
          event_type: 'subscription.line_item_spend.threshold_reached',
          ...nativeAlert,
        });
      }
    }
    const forwardedTypes = [
      ...system.routes.requests,
      ...system.target.received.map((r) => ({ eventType: String(r.headers['x-flexprice-event-type']) })),
    ]
      .map((r) => r.eventType)
      .sort();
    expect(forwardedTypes).toEqual([...EVENT_TYPES, 'subscription.line_item_spend.threshold_reached'].sort());
    for (const request of system.target.received) {
      const body = JSON.parse(request.body) as { version?: string };
      expect(request.headers['x-entity-version']).toMatch(VERSION_PATTERN);
      expect(body.version).toBe(request.headers['x-entity-version']);
    }
  });
});

describe('one event per entity in flight, never an older one after a newer', () => {
  test('50 invoice events for 5 invoices, in random order, 3 workers', { timeout: 90_000 }, async ({ system }) => {
    const receiver = await system.routedReceiver();
    await Promise.all([1, 2, 3].map(() => system.routedWorker({ WORKER_CONCURRENCY: '16' })));
    // The invoice states (all carry updated_at); the e-mail notification, versioned on another
    // clock, is ordered apart (routes.int.test.ts).
    const invoiceTypes = EVENT_TYPES.filter((type) => familyOf(type) === 'invoice' && carriesPayloadTime(type));
    expect(invoiceTypes).toHaveLength(5);
    const events = shuffle(
      Array.from({ length: 50 }, (_, k) => {
        const type = invoiceTypes[Math.floor(Math.random() * invoiceTypes.length)] as EventType;
        return familyBody(type, `inv_race_${k % 5}`, Math.floor(k / 5) + 1);
      }),
    );
    const answers = await pool(
      events.map((body) => () => postWebhook(receiver.port, body, 'signed')),
      5,
    );
    expect(answers.map((a) => a.status)).toEqual(events.map(() => 202));
    await drained(system, ['invoice'], 50);
    expect(await failedCount(system, ['invoice'])).toBe(0);

    expect(system.routes.maxInFlight()).toBe(1);
    const acked = system.routes.ackedSeqs();
    expect([...acked.keys()].sort()).toEqual([0, 1, 2, 3, 4].map((i) => `invoice:inv_race_${i}`));
    for (const [invoice, seqs] of acked) {
      // Acknowledged states only ever move forward, and the newest one always arrives.
      expect(seqs, invoice).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size, invoice).toBe(seqs.length);
      expect(seqs.at(-1), invoice).toBe(10);
    }
  });

  test('a target that 503s for one invoice holds up only that invoice', { timeout: 90_000 }, async ({ system }) => {
    const bad = 'invoice:inv_bad';
    system.routes.setStatus((entity) => (entity === bad ? 503 : 200));
    // Retries come back soon, and a job may try long: the failing invoice keeps trying throughout.
    const receiver = await system.routedReceiver({ JOB_BACKOFF_MS: '200', JOB_ATTEMPTS: '100' });
    await Promise.all([1, 2].map(() => system.routedWorker({ WORKER_CONCURRENCY: '8' })));
    const send = (id: string, seq: number) =>
      postWebhook(receiver.port, familyBody('invoice.update.payment', id, seq), 'signed');
    // More events of the failing invoice than the workers have slots (2 × 8): were its jobs to hold
    // their slots while they wait, nothing else could run.
    const BAD = 24;
    for (let seq = 1; seq <= BAD; seq += 1) expect((await send('inv_bad', seq)).status).toBe(202);
    const others = [1, 2, 3, 4].map((i) => `inv_ok_${i}`);
    for (let seq = 1; seq <= 5; seq += 1) {
      for (const id of others) expect((await send(id, seq)).status).toBe(202);
    }
    // Every other invoice reaches its newest state while the bad one is still refused.
    await expect
      .poll(() => others.map((id) => system.routes.ackedSeqs().get(`invoice:${id}`)?.at(-1)), {
        timeout: 15_000,
        interval: 200,
      })
      .toEqual([5, 5, 5, 5]);
    expect(system.routes.ackedSeqs().get(bad)).toBeUndefined();
    expect(system.routes.requests.filter((r) => r.entity === bad).length).toBeGreaterThan(0);

    // The target recovers: the bad invoice catches up, in order, to its newest state.
    system.routes.setStatus(() => 200);
    await expect.poll(() => system.routes.ackedSeqs().get(bad)?.at(-1), { timeout: 30_000, interval: 200 }).toBe(BAD);
    const seqs = system.routes.ackedSeqs().get(bad) ?? [];
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(system.routes.maxInFlight()).toBe(1);
  });
});

describe('all families at once', () => {
  /** Entities per family and events per entity (`pnpm test:soak` raises both). */
  const ENTITIES = Number(process.env.FAMILIES_ENTITIES ?? 3);
  const EVENTS = Number(process.env.FAMILIES_EVENTS ?? 5);

  /**
   * The types of a family that can follow each other about one entity in this race: with an
   * entity, not a deletion (nothing follows one), and on one clock (all with a payload time, or all
   * without): versions of two clocks are ordered apart (an invoice's e-mail notification carries no
   * updated_at), so a mix would have no single order to check.
   */
  function raceTypes(family: Family): EventType[] {
    const eligible = EVENT_TYPES.filter(
      (type) => familyOf(type) === family && ENTITY_CATALOG[type].id !== null && !ENTITY_CATALOG[type].deletes,
    );
    // One stream: one clock, and one entity for one id (a wallet's credit-balance and
    // ongoing-balance alerts are two streams, and so are spend alerts of two alert types).
    const streams = new Map<string, EventType[]>();
    for (const type of eligible) {
      const stream = `${carriesPayloadTime(type)} ${entityIdOf(type, familyBody(type, 'x', 1))}`;
      streams.set(stream, [...(streams.get(stream) ?? []), type]);
    }
    return [...streams.values()].sort((a, b) => b.length - a.length)[0] ?? [];
  }

  /** Every family with events about an entity (`usage` has none: each refused usage event is one of a kind). */
  const RACING = FAMILIES.filter((family) => raceTypes(family).length > 0);

  test('races every family but usage', () => {
    expect(FAMILIES.filter((family) => !RACING.includes(family))).toEqual(['usage']);
  });

  test.for(['signed', 'static'] as AuthMode[])(
    '%s: a backlog of every family drained by 2 workers at concurrency 64: each entity ends on its newest state',
    { timeout: 120_000 },
    async (auth, { system }) => {
      const receiver = await system.routedReceiver();
      const run = auth === 'signed' ? 's' : 'n';
      // Each entity's events are sent one after the other (each after the 202 of the previous);
      // the entities of every family all at once; no worker runs yet.
      const chains = RACING.flatMap((family) =>
        Array.from({ length: ENTITIES }, (_, e) => async () => {
          const types = raceTypes(family);
          for (let seq = 1; seq <= EVENTS; seq += 1) {
            const type = types[Math.floor(Math.random() * types.length)] as EventType;
            const body = familyBody(type, `${family}_${run}_${e}`, seq);
            const { status } = await postWebhook(receiver.port, body, auth);
            if (status !== 202) throw new Error(`${type} answered ${status}`);
          }
        }),
      );
      await pool(chains, chains.length);
      await Promise.all([1, 2].map(() => system.routedWorker({ WORKER_CONCURRENCY: '64' })));
      await drained(system, FAMILIES, RACING.length * ENTITIES * EVENTS);
      expect(await failedCount(system, FAMILIES)).toBe(0);

      expect(system.routes.maxInFlight()).toBe(1);
      const acked = system.routes.ackedSeqs();
      for (const family of RACING.filter((f) => f !== 'customer')) {
        for (let e = 0; e < ENTITIES; e += 1) {
          const [type] = raceTypes(family) as [EventType];
          const entity = `${family}:${entityIdOf(type, familyBody(type, `${family}_${run}_${e}`, 1))}`;
          const seqs = acked.get(entity) ?? [];
          expect(seqs, entity).toEqual([...new Set(seqs)].sort((a, b) => a - b));
          expect(seqs.at(-1), entity).toBe(EVENTS);
        }
      }
      // Customers go to the customer route (CUSTOMER_FORWARD_URL), ordered the same way.
      const customerSeqs = new Map<string, number[]>();
      for (const request of system.target.received) {
        const body = JSON.parse(request.body) as { customer: { id: string }; test_seq: number };
        customerSeqs.set(body.customer.id, [...(customerSeqs.get(body.customer.id) ?? []), body.test_seq]);
      }
      for (let e = 0; e < ENTITIES; e += 1) {
        const seqs = customerSeqs.get(`customer_${run}_${e}`) ?? [];
        expect(seqs).toEqual([...new Set(seqs)].sort((a, b) => a - b));
        expect(seqs.at(-1)).toBe(EVENTS);
      }
    },
  );
});

describe('nothing queued that nobody processes', () => {
  test('a routed type without a route: the worker and the receiver refuse to start, naming FORWARD_ROUTES', async ({
    system,
  }) => {
    const env = { ...system.env, ENQUEUE_EVENTS: 'customer.*,invoice.update.finalized', LOG_LEVEL: 'warn' };
    const worker = runNode(WORKER_MAIN, { ...env, WORKER_METRICS_PORT: '0', WORKER_METRICS_HOST: '127.0.0.1' });
    const receiver = runNode(RECEIVER_MAIN, {
      ...env,
      PORT: String(await freePort()),
      HOST: '127.0.0.1',
      FLEXPRICE_WEBHOOK_AUTH_HEADER: STATIC_AUTH.header,
      FLEXPRICE_WEBHOOK_AUTH_TOKEN: STATIC_AUTH.token,
    });
    for (const proc of [worker, receiver]) {
      // An app that cannot start exits 1 with its configuration problems (runtime's runMain).
      expect(await proc.exited).toBe(1);
      expect(proc.output()).toContain('ENQUEUE_EVENTS: queues invoice.update.finalized, which nothing processes');
      expect(proc.output()).toContain('FORWARD_ROUTES');
    }
  });
});
