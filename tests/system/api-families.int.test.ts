import { fileURLToPath } from 'node:url';
import { type EventType, type Family, queueNameOf } from '@flexprice/contracts';
import {
  type EntityTarget,
  type FlexpriceApiStandIn,
  redisTest,
  runNode,
  startEntityTarget,
  startFlexpriceApiStandIn,
} from '@flexprice/testing';
import { Queue } from 'bullmq';
import { describe, expect } from 'vitest';
import { FORWARD_SECRET, familyBody, postWebhook, type System, startSystem } from './system-support.js';

// Flexprice's API as the truth for subscriptions and invoices (and every API-backed family), with
// built receiver and worker processes, a real Redis, the API stand-in read through the SDK as
// installed, and a target that records what it acknowledged: webhooks shuffled, lost, and stale
// Svix retries of older states arriving after newer ones all end at the API's state.

const KEY = 'test-api-key-0123456789';
const ENV = 'env_01K2ZQ0A1B2C3D4E5F6G7H8J9K';
const SYNC_CLI = fileURLToPath(new URL('../../apps/worker/dist/cli/sync.js', import.meta.url));

type Sys = System & {
  api: FlexpriceApiStandIn;
  routes: EntityTarget;
  apiReceiver(): ReturnType<System['receiver']>;
  apiWorker(extra?: Record<string, string>): ReturnType<System['worker']>;
  queueOf(family: Family): Queue;
  env: System['env'];
};

const test = redisTest.extend('system', async ({ redis }, { onCleanup }) => {
  const api = await startFlexpriceApiStandIn({ apiKey: KEY, environmentId: ENV });
  const routes = await startEntityTarget();
  const system = await startSystem(redis);
  const routing = { ENQUEUE_EVENTS: '*', FORWARD_ROUTES: `*=${routes.url}` };
  const queues = new Map<Family, Queue>();
  onCleanup(async () => {
    for (const queue of queues.values()) await queue.close();
    await system.close();
    await routes.close();
    await api.close();
  });
  const workerEnv = {
    ...routing,
    FORWARD_SECRET,
    FLEXPRICE_API_KEY: KEY,
    FLEXPRICE_API_URL: api.url,
    FLEXPRICE_API_NOT_FOUND_CONFIRM_MS: '1000',
  };
  return Object.assign(system, {
    api,
    routes,
    workerEnv,
    apiReceiver: () => system.receiver({ ...routing, JOB_BACKOFF_MS: '200' }),
    apiWorker: (extra: Record<string, string> = {}) => system.worker({ ...workerEnv, ...extra }),
    queueOf(family: Family) {
      const known = queues.get(family);
      if (known) return known;
      const queue = new Queue(queueNameOf(family), {
        connection: { url: redis.url, maxRetriesPerRequest: null },
        prefix: system.env.QUEUE_PREFIX,
      });
      queue.on('error', () => {});
      queues.set(family, queue);
      return queue;
    },
  }) as Sys & { workerEnv: Record<string, string> };
});

/** Waits until the families' queues have `total` ended jobs, none waiting, running or delayed. */
async function drained(system: Sys, families: readonly Family[], total: number, timeout = 60_000) {
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
        return { ended: ended >= total, pending };
      },
      { timeout, interval: 200 },
    )
    .toEqual({ ended: true, pending: 0 });
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

type Kind = 'subscription' | 'invoice';
const KEYS: Record<Kind, string> = { subscription: 'subscription', invoice: 'invoice' };

/** The state `seq` of an entity in the API: a status that moves on, and the seq in the user's metadata. */
function stateOf(kind: Kind, seq: number): Record<string, unknown> {
  const metadata = { crmId: `CRM-${seq}`, plan_hint: 'pro', seq: String(seq) };
  if (kind === 'subscription') {
    return { subscription_status: seq < 4 ? 'active' : 'cancelled', metadata };
  }
  return {
    invoice_status: seq === 0 ? 'DRAFT' : 'FINALIZED',
    payment_status: seq < 4 ? 'PENDING' : 'SUCCEEDED',
    metadata,
  };
}

/** A webhook about entity `id` whose body is (stale) state `seq`. */
function webhookOf(kind: Kind, id: string, seq: number): Record<string, unknown> {
  const type: EventType =
    kind === 'subscription'
      ? seq === 0
        ? 'subscription.created'
        : seq < 4
          ? 'subscription.updated'
          : 'subscription.cancelled'
      : seq < 4
        ? 'invoice.update.finalized'
        : 'invoice.update.payment';
  const body = familyBody(type, id, seq);
  const entity = body[KEYS[kind]] as Record<string, unknown>;
  if (kind === 'invoice') entity.environment_id = ENV;
  return body;
}

/** What the target acknowledged per entity: the `seq` of each state, in order. */
function ackedSeqs(routes: EntityTarget, kind: Kind): Map<string, number[]> {
  const byEntity = new Map<string, number[]>();
  for (const request of routes.acknowledged) {
    const body = JSON.parse(request.body) as Record<string, { id: string; metadata?: { seq?: string } } | undefined>;
    const entity = body[KEYS[kind]];
    if (!entity?.metadata?.seq) continue;
    byEntity.set(entity.id, [...(byEntity.get(entity.id) ?? []), Number(entity.metadata.seq)]);
  }
  return byEntity;
}

async function sync(system: Sys & { workerEnv: Record<string, string> }, args: string[]) {
  const proc = runNode(SYNC_CLI, { ...system.env, ...system.workerEnv }, args);
  const code = await proc.exited;
  const output = proc.output();
  const summary = /\{[\s\S]*\}\s*$/.exec(output)?.[0];
  return {
    code,
    output,
    summary: summary ? (JSON.parse(summary) as { families: Record<string, Record<string, number>> }) : undefined,
  };
}

describe("subscriptions and invoices from Flexprice's API", () => {
  test('shuffled, lost and stale Svix retries of older states, 2 workers: every target ends at the API state, never older after newer; then the sync heals what no webhook said, once', {
    timeout: 120_000,
  }, async ({ system }) => {
    const s = system as Sys & { workerEnv: Record<string, string> };
    const receiver = await s.apiReceiver();
    await Promise.all([1, 2].map(() => s.apiWorker({ WORKER_CONCURRENCY: '16' })));
    const kinds: Kind[] = ['subscription', 'invoice'];
    const ENTITIES = 15;
    const ids = (kind: Kind) =>
      Array.from({ length: ENTITIES }, (_, e) => `${kind === 'invoice' ? 'inv' : 'subs'}_race_${e}`);
    let sent = 0;
    let late: Record<string, unknown>[] = [];
    for (let seq = 0; seq < 5; seq += 1) {
      const round: Record<string, unknown>[] = [];
      for (const kind of kinds) {
        for (const id of ids(kind)) {
          s.api.family(kind).upsert({ id, ...stateOf(kind, seq) });
          round.push(webhookOf(kind, id, seq));
        }
      }
      shuffle(round);
      // One in ten lost; one in five held back and delivered a round later (stale content).
      const now = round.filter((_, i) => i % 10 !== 3 && i % 5 !== 1);
      const held = round.filter((_, i) => i % 5 === 1);
      for (const body of [...now, ...late]) {
        expect((await postWebhook(receiver.port, body, 'signed')).status).toBe(202);
        sent += 1;
      }
      late = held;
    }
    // Stale Svix retries: old content under new svix-ids, after everything newer.
    for (const kind of kinds) {
      for (const id of ids(kind).slice(0, 5)) {
        expect((await postWebhook(receiver.port, webhookOf(kind, id, 1), 'signed')).status).toBe(202);
        sent += 1;
      }
    }
    // Entities the API has and no webhook ever named.
    for (const kind of kinds) s.api.family(kind).upsert({ id: `${kind}_silent`, ...stateOf(kind, 4) });
    await drained(s, kinds, sent);
    expect((await s.queueOf('invoice').getFailedCount()) + (await s.queueOf('subscription').getFailedCount())).toBe(0);

    for (const kind of kinds) {
      const acked = ackedSeqs(s.routes, kind);
      for (const id of ids(kind)) {
        const seqs = acked.get(id) ?? [];
        // Never an older state after a newer one, nor one state twice; the last is the API's.
        expect(seqs, `${kind} ${id}`).toEqual([...new Set(seqs)].sort((a, b) => a - b));
        if (seqs.length > 0) expect(seqs.at(-1), `${kind} ${id}`).toBe(4);
      }
    }
    // What went out is the API's JSON: the user's metadata as the API sent it, byte for byte, and
    // a field the SDK does not model.
    s.api.family('invoice').upsert({ id: 'inv_race_0', ...stateOf('invoice', 4), x_unmodelled: { kept: true } });
    const healed = await sync(s, ['--family', 'invoice,subscription']);
    expect(healed.code).toBe(0);
    expect(healed.summary?.families.invoice).toMatchObject({ forwarded: expect.any(Number) });
    const served = JSON.stringify(s.api.family('invoice').served('inv_race_0'));
    const last = s.routes.acknowledged.filter((r) => r.body.includes('"inv_race_0"')).at(-1);
    expect(last?.body).toContain(served);
    expect(last?.body).toContain('"metadata":{"crmId":"CRM-4","plan_hint":"pro","seq":"4"}');
    expect(last?.headers['x-entity-version-clock']).toBe('api');
    for (const kind of kinds) {
      // Every entity at the target ends on the API's state, the silent ones included.
      const acked = ackedSeqs(s.routes, kind);
      for (const id of [...ids(kind), `${kind}_silent`]) expect(acked.get(id)?.at(-1), `${kind} ${id}`).toBe(4);
    }
    // Once: a second run right after forwards nothing.
    const again = await sync(s, ['--family', 'invoice,subscription']);
    expect(again.summary?.families.invoice).toMatchObject({ forwarded: 0, applied: 0 });
    expect(again.summary?.families.subscription).toMatchObject({ forwarded: 0, applied: 0 });
  });

  test('a backlog drains at ≤ 0.25 API calls per event, per family', { timeout: 90_000 }, async ({ system }) => {
    const s = system as Sys & { workerEnv: Record<string, string> };
    const receiver = await s.apiReceiver();
    const EVENTS = 150;
    for (const kind of ['subscription', 'invoice'] as Kind[]) {
      for (let i = 0; i < EVENTS; i += 1) {
        const id = `${kind}_backlog_${i}`;
        s.api.family(kind).upsert({ id, ...stateOf(kind, 1) });
        expect((await postWebhook(receiver.port, webhookOf(kind, id, 1), 'signed')).status).toBe(202);
      }
    }
    const before = s.api.calls.length;
    await Promise.all([1, 2].map(() => s.apiWorker({ WORKER_CONCURRENCY: '64' })));
    await drained(s, ['subscription', 'invoice'], 2 * EVENTS);
    const calls = s.api.calls.slice(before);
    for (const path of ['/v1/subscriptions', '/v1/invoices']) {
      const perEvent = calls.filter((c) => c.path.startsWith(path)).length / EVENTS;
      console.info(`backlog drain: ${path} ${perEvent.toFixed(3)} API calls per event`);
      expect(perEvent, path).toBeLessThanOrEqual(0.25);
    }
  });

  test('an API outage delays and loses nothing; an unknown invoice is a dead letter; alerts still go out from their body', {
    timeout: 90_000,
  }, async ({ system }) => {
    const s = system as Sys & { workerEnv: Record<string, string> };
    const receiver = await s.apiReceiver();
    await s.apiWorker();
    // The API answers 503 to the next 6 invoice reads: the job retries, nothing goes out from the body.
    s.api.family('invoice').upsert({ id: 'inv_outage', ...stateOf('invoice', 2) });
    s.api.failNext(6, { status: 503, path: '/v1/invoices' });
    expect((await postWebhook(receiver.port, webhookOf('invoice', 'inv_outage', 0), 'signed')).status).toBe(202);
    // Never known to the API: read twice, a second apart, then a dead letter that says so.
    expect((await postWebhook(receiver.port, webhookOf('invoice', 'inv_unknown', 1), 'signed')).status).toBe(202);
    // A spend alert: no entity to read, forwarded as it came.
    const alert = familyBody('subscription.spend.threshold_reached', 'subs_alerting', 1);
    expect((await postWebhook(receiver.port, alert, 'signed')).status).toBe(202);
    await drained(s, ['invoice', 'spend_alert'], 3);

    const outage = s.routes.acknowledged.filter((r) => r.body.includes('"inv_outage"'));
    expect(
      outage.map((r) => (JSON.parse(r.body) as { invoice: { metadata: { seq: string } } }).invoice.metadata.seq),
    ).toEqual(['2']);
    expect(s.api.calls.filter((c) => c.path.startsWith('/v1/invoices') && c.status === 503)).toHaveLength(6);

    const [unknown] = await s.queueOf('invoice').getFailed();
    expect(unknown?.failedReason).toMatch(/Flexprice's API does not know invoice inv_unknown/);
    expect(s.routes.requests.some((r) => r.body.includes('inv_unknown'))).toBe(false);
    // (The outage's 503s may have met its first reads too: those are retries, not evidence.)
    const unknownReads = s.api.calls.filter((c) => c.path === '/v1/invoices/inv_unknown' && c.status === 404);
    expect(unknownReads).toHaveLength(2);
    expect((unknownReads[1]?.at ?? 0) - (unknownReads[0]?.at ?? 0)).toBeGreaterThanOrEqual(950);

    const alerts = s.routes.acknowledged.filter((r) => r.eventType === 'subscription.spend.threshold_reached');
    expect(alerts).toHaveLength(1);
    expect(JSON.parse(alerts[0]?.body ?? '{}')).toEqual(alert);
  });
});
