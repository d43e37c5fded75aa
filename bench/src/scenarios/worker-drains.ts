import type { ChildProcess } from 'node:child_process';
import { type EventType, idempotencyKey, type WebhookJob, webhookJob, webhookJobOptions } from '@flexprice/contracts';
import { currentCustomer, customerEvent, FAMILY_FIXTURES } from '@flexprice/contracts/fixtures';
import { Queue } from 'bullmq';
import { workerEnv } from '../apps.js';
import type { BenchContext } from '../context.js';
import { SCRIPTS } from '../paths.js';
import { cpuMicros, pidOf, sleep, waitHttp } from '../processes.js';
import { type FlexpriceApiStandIn, freePort, startFlexpriceApiStandIn, TEST_OTHER_SECRET } from '../testing.js';
import type { DrainId } from './ids.js';
import type { Scenario } from './scenario.js';

export type { DrainId };

export interface DrainResult {
  label: string;
  jobsPerSecond: number;
  perReplica: number;
  replicas: number;
  failed: number;
  /** Calls to the Flexprice API stand-in per job (API-backed drains only). */
  apiCallsPerJob?: number;
  /** Jobs completed as `skipped_stale`: a newer version was there first (invoice drains only). */
  skippedStale?: number;
  /** CPU time (user + system) of the worker processes, all replicas, per job, in µs. */
  workerCpuMicrosPerJob: number;
  /** CPU time of redis-server per job, in µs. */
  redisCpuMicrosPerJob: number;
  /** Redis commands per job (commands inside Lua scripts count). */
  redisCommandsPerJob: number;
}

/** Per drain; a drain BENCH_DRAINS left out is absent. */
export type WorkerDrainsResult = Partial<Record<DrainId, DrainResult>>;

interface Drain {
  id: DrainId;
  label: string;
  script: string;
  replicas: number;
  /** BullMQ's key prefix (the naive worker gets its own). */
  prefix: string;
  /** Whether the worker answers `/readyz` on its metrics port (ours does, the naive one has none). */
  readyz: boolean;
  /** Customers forwarded to a local HTTP target. */
  forward?: boolean;
  /** A loopback stand-in of Flexprice's API holds every customer: fetch on notify. */
  api?: boolean;
  /** invoice.update.payment jobs about this many invoices in turn, routed to the target. */
  invoices?: number;
  /**
   * Jobs of this API-backed family, each about an entity of its own that the stand-in holds,
   * routed to the target: what a backlog drain costs in API calls per event, per family.
   */
  apiFamily?: 'subscription' | 'invoice';
}

const API_KEY = 'bench-flexprice-api-key';
const INVOICE_EPOCH = Date.UTC(2026, 7, 20);

function drains(jobs: number): Drain[] {
  const ours = { script: SCRIPTS.worker, prefix: 'bull', readyz: true };
  return [
    {
      id: 'naiveWorker',
      label: 'naive worker (one HSET per job)',
      script: SCRIPTS.naiveWorker,
      replicas: 1,
      prefix: 'naive',
      readyz: false,
    },
    { ...ours, id: 'oursStore1', label: 'ours, store only, 1 replica(s)', replicas: 1 },
    { ...ours, id: 'oursStore2', label: 'ours, store only, 2 replica(s)', replicas: 2 },
    {
      ...ours,
      id: 'oursApiBacked1',
      label: 'ours, store, API-backed (fetch on notify), 1 replica(s)',
      replicas: 1,
      api: true,
    },
    ...(['subscription', 'invoice'] as const).map(
      (family): Drain => ({
        ...ours,
        id: family === 'invoice' ? 'oursApiInvoices1' : 'oursApiSubscriptions1',
        label: `ours, ${family}s API-backed by route, 1 replica(s)`,
        replicas: 1,
        forward: true,
        api: true,
        apiFamily: family,
      }),
    ),
    { ...ours, id: 'oursForward1', label: 'ours, store + forward, 1 replica(s)', replicas: 1, forward: true },
    { ...ours, id: 'oursForward2', label: 'ours, store + forward, 2 replica(s)', replicas: 2, forward: true },
    // Routed invoices: every job its own invoice (full parallelism), then 10 invoices changing
    // jobs / 10 times each (ordering per invoice: forwards of one invoice wait for each other,
    // stale ones skip).
    {
      ...ours,
      id: 'oursInvoicesDistinct1',
      label: `ours, invoices by route, ${jobs} invoices, 1 replica(s)`,
      replicas: 1,
      forward: true,
      invoices: jobs,
    },
    {
      ...ours,
      id: 'oursInvoicesTen1',
      label: 'ours, invoices by route, 10 invoices, 1 replica(s)',
      replicas: 1,
      forward: true,
      invoices: 10,
    },
  ];
}

function invoiceFixture(): Record<string, unknown> {
  const invoice = FAMILY_FIXTURES.invoice[0]?.invoice;
  if (!invoice) throw new Error('@flexprice/contracts/fixtures has no invoice fixture');
  return invoice;
}

/**
 * A paused queue holding `ctx.options.jobs` jobs, built as the receiver builds them: customer jobs
 * (each customer `onCustomer` is told of), or with `invoices`, invoice.update.payment jobs.
 */
async function fill(
  ctx: BenchContext,
  drain: Drain,
  onEntity: (family: 'customer' | 'subscription' | 'invoice', id: string) => void,
): Promise<Queue<WebhookJob>> {
  const { invoices, apiFamily } = drain;
  const family = apiFamily ?? (invoices ? 'invoice' : 'customer');
  const queue = new Queue<WebhookJob>(`flexprice.${family}`, {
    connection: ctx.redis.client,
    prefix: drain.prefix,
  });
  await queue.pause();
  const opts = webhookJobOptions({ attempts: 10, backoffMs: 1000, keepCompleted: 100_000 });
  const eventType: EventType =
    apiFamily === 'subscription'
      ? 'subscription.updated'
      : invoices || apiFamily === 'invoice'
        ? 'invoice.update.payment'
        : 'customer.created';
  const invoice = invoices ? invoiceFixture() : undefined;
  const count = ctx.options.jobs;
  for (let start = 0; start < count; start += 1000) {
    const batch: { name: string; data: WebhookJob; opts: typeof opts }[] = [];
    for (let i = start; i < Math.min(start + 1000, count); i += 1) {
      const n = ctx.sequence.next();
      let event: Record<string, unknown>;
      if (apiFamily) {
        const id = `${apiFamily === 'invoice' ? 'inv' : 'subs'}_drain_${n}`;
        const fixture = (FAMILY_FIXTURES[apiFamily][0] ?? {}) as Record<string, object>;
        event = { event_type: eventType, [apiFamily]: { ...fixture[apiFamily], id } };
        onEntity(apiFamily, id);
      } else if (invoices) {
        event = {
          event_type: eventType,
          invoice: {
            ...invoice,
            id: `inv_drain_${i % invoices}`,
            updated_at: new Date(INVOICE_EPOCH + i).toISOString(),
          },
        };
      } else {
        event = customerEvent('customer.created', currentCustomer({ id: `cust_drain_${n}`, external_id: `ext-${n}` }));
        onEntity('customer', `cust_drain_${n}`);
      }
      const deliveryId = `msg_drain_${n}`;
      const data = webhookJob(eventType, event, {
        receivedAt: new Date().toISOString(),
        deliveryId,
        idempotencyKey: idempotencyKey({ deliveryId, eventType, rawBody: Buffer.from('') }),
        requestId: `req-${n}`,
        inferredEventType: false,
        acceptedAt: String(Date.now() * 1000 + (n % 1000)).padStart(17, '0'),
      });
      batch.push({ name: eventType, data, opts });
    }
    await queue.addBulk(batch);
  }
  return queue;
}

function drainEnv(ctx: BenchContext, drain: Drain, metricsPort: number, targetPort: number, api?: FlexpriceApiStandIn) {
  const target = `http://127.0.0.1:${targetPort}/`;
  return workerEnv(ctx, metricsPort, {
    QUEUE_PREFIX: drain.prefix,
    ...(drain.forward && !drain.invoices && !drain.apiFamily
      ? { FORWARD_ROUTES: `customer.*=${target}`, FORWARD_SECRET: TEST_OTHER_SECRET }
      : {}),
    ...(drain.invoices || drain.apiFamily
      ? {
          ENQUEUE_EVENTS: `customer.*,${drain.apiFamily ?? 'invoice'}.*`,
          FORWARD_ROUTES: `${drain.apiFamily ?? 'invoice'}.*=${target}`,
          FORWARD_SECRET: TEST_OTHER_SECRET,
        }
      : {}),
    ...(api ? { FLEXPRICE_API_KEY: API_KEY, FLEXPRICE_API_URL: api.url } : {}),
  });
}

async function run(ctx: BenchContext, drain: Drain): Promise<DrainResult> {
  const { processes, options } = ctx;
  const jobs = options.jobs;
  await ctx.redis.flush();
  let standIn: FlexpriceApiStandIn | undefined;
  let queue: Queue<WebhookJob> | undefined;
  let target: ChildProcess | undefined;
  const workers: ChildProcess[] = [];
  try {
    standIn = drain.api ? await startFlexpriceApiStandIn({ apiKey: API_KEY }) : undefined;
    const api = standIn;
    queue = await fill(ctx, drain, (family, id) => api?.family(family).upsert({ id }));
    const targetPort = await freePort();
    if (drain.forward) target = processes.start(SCRIPTS.forwardTarget, { PORT: String(targetPort) });
    for (let i = 0; i < drain.replicas; i += 1) {
      const metricsPort = await freePort();
      workers.push(processes.start(drain.script, drainEnv(ctx, drain, metricsPort, targetPort, api)));
      if (drain.readyz) await waitHttp(`http://127.0.0.1:${metricsPort}/readyz`);
    }
    await sleep(500);
    ctx.log(`worker: ${drain.label}`);
    const workerCpu = () => workers.reduce((sum, worker) => sum + cpuMicros(pidOf(worker)), 0);
    const before = { worker: workerCpu(), redis: ctx.redis.cpuMicros(), calls: await ctx.redis.commandCalls() };
    const started = Date.now();
    await queue.resume();
    let done = 0;
    while (done < jobs) {
      await sleep(50);
      const counts = await queue.getJobCounts('completed', 'failed');
      done = (counts.completed ?? 0) + (counts.failed ?? 0);
      if (Date.now() - started > 120_000) throw new Error(`${drain.label}: ${done}/${jobs} after 120 s`);
    }
    const seconds = (Date.now() - started) / 1000;
    const cost = {
      workerCpuMicrosPerJob: (workerCpu() - before.worker) / jobs,
      redisCpuMicrosPerJob: (ctx.redis.cpuMicros() - before.redis) / jobs,
      // The bench's own polling (getJobCounts every 50 ms) is a few commands per poll: left in.
      redisCommandsPerJob: ((await ctx.redis.commandCalls()) - before.calls) / jobs,
    };
    const failed = (await queue.getJobCounts('failed')).failed ?? 0;
    const skippedStale = drain.invoices
      ? (await queue.getCompleted(0, jobs)).filter(
          (job) => (job.returnvalue as { outcome?: string } | null)?.outcome === 'skipped_stale',
        ).length
      : undefined;
    return {
      label: drain.label,
      jobsPerSecond: jobs / seconds,
      perReplica: jobs / seconds / drain.replicas,
      replicas: drain.replicas,
      failed,
      ...cost,
      ...(standIn && { apiCallsPerJob: standIn.calls.length / jobs }),
      ...(skippedStale !== undefined && { skippedStale }),
    };
  } finally {
    await Promise.all(workers.map((worker) => processes.stop(worker)));
    await standIn?.close();
    await processes.stop(target);
    await queue?.close();
  }
}

/**
 * How fast a queue pre-filled with BENCH_JOBS jobs drains: the naive worker, then ours with 1 and 2
 * replicas, store only, API-backed, with forwarding, and invoices routed to a target.
 */
export const workerDrains: Scenario<'workerDrains', WorkerDrainsResult> = {
  id: 'workerDrains',
  title: 'worker drain rates',
  async run(ctx) {
    const result: WorkerDrainsResult = {};
    for (const drain of drains(ctx.options.jobs)) {
      if (ctx.options.drains && !ctx.options.drains.includes(drain.id)) continue;
      result[drain.id] = await run(ctx, drain);
    }
    return result;
  },
};
