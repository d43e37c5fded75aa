import { type EvictionWatch, evictionGaugeOptions } from '@flexprice/runtime';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { ConfigAgreement } from './queue/config-agreement.js';

export type JobResult = 'completed' | 'skipped' | 'retried' | 'failed';
export type ForwardStatusClass = '2xx' | '3xx' | '4xx' | '5xx' | 'timeout' | 'error';

/** What the queue gauges read on each scrape (one round trip per queue). */
export interface QueueProbe {
  queue: string;
  counts(): Promise<Record<string, number>>;
  /** Enqueue time (ms) of the oldest waiting job, or undefined when none waits. */
  oldestWaitingAt(): Promise<number | undefined>;
}

const STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;

/** The worker's Prometheus metrics, in a registry of its own. */
export function createWorkerMetrics(now: () => number = Date.now) {
  const probes: QueueProbe[] = [];
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const jobs = new Counter({
    name: 'flexprice_jobs_total',
    help: 'Job tries by result: completed, skipped (applied nothing: tombstone, stale), retried, failed (for good).',
    labelNames: ['queue', 'event_type', 'result'] as const,
    registers: [registry],
  });
  const jobDuration = new Histogram({
    name: 'flexprice_job_duration_seconds',
    help: 'Processing time of one try of a job.',
    labelNames: ['queue', 'event_type'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const forwardDuration = new Histogram({
    name: 'flexprice_forward_duration_seconds',
    help: 'Time of one forward, by route (its pattern) and answer class (timeout, error: no answer).',
    labelNames: ['route', 'status_class'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const forwardWaits = new Counter({
    name: 'flexprice_forward_lock_waits_total',
    help: 'Jobs that found another forward of their entity in flight and stepped aside (no attempt spent).',
    labelNames: ['queue'] as const,
    registers: [registry],
  });
  const apiCalls = new Counter({
    name: 'flexprice_api_requests_total',
    help: "Calls to Flexprice's API by operation and result (ok, not_found, unauthorized, throttled, server_error, refused, unreachable).",
    labelNames: ['operation', 'result'] as const,
    registers: [registry],
  });
  const apiUnauthorized = new Gauge({
    name: 'flexprice_api_unauthorized',
    help: "1 while Flexprice's API refuses FLEXPRICE_API_KEY (401/403): the jobs that read the API fail until it is fixed.",
    registers: [registry],
  });
  const applied = new Counter({
    name: 'flexprice_customers_applied_total',
    help: 'Customer states stored, by source: webhook (its body), api (read on notify), sync (the reconciler).',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  const entitiesApplied = new Counter({
    name: 'flexprice_entities_applied_total',
    help: 'States stored or forwarded, by family and source: webhook (its body), api (read on notify), sync (the reconciler).',
    labelNames: ['family', 'source'] as const,
    registers: [registry],
  });
  const familySyncRefused = new Counter({
    name: 'flexprice_sync_refused_total',
    help: 'Entities the reconciler kept but a forward target refused for good (400, 409, 410, 413, 422), by family: forward them with pnpm sync --family <family> --since.',
    labelNames: ['family'] as const,
    registers: [registry],
  });
  const familyLastSync = new Gauge({
    name: 'flexprice_sync_last_success_timestamp_seconds',
    help: 'When the reconciler last finished a family (scheduled, or pnpm sync in this process); absent: never.',
    labelNames: ['family'] as const,
    registers: [registry],
  });
  const syncRefused = new Counter({
    name: 'flexprice_customer_sync_refused_total',
    help: 'Customers the reconciler stored but the forward target refused for good (400, 409, 410, 413, 422): forward them with pnpm customers sync --since.',
    registers: [registry],
  });
  const lastSync = new Gauge({
    name: 'flexprice_customer_sync_last_success_timestamp_seconds',
    help: 'When the last customer sync (scheduled or pnpm customers sync in this process) finished; 0: never.',
    registers: [registry],
  });
  new Gauge({
    name: 'flexprice_queue_jobs',
    help: 'Jobs per queue and state, read from Redis at scrape time.',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const probe of probes) {
        const counts = await probe.counts();
        for (const state of STATES) this.set({ queue: probe.queue, state }, counts[state] ?? 0);
      }
    },
  });
  new Gauge({
    name: 'flexprice_queue_oldest_waiting_age_seconds',
    help: 'Age of the oldest job waiting for a worker (0 when none waits): alert when it grows.',
    labelNames: ['queue'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const probe of probes) {
        const at = await probe.oldestWaitingAt();
        this.set({ queue: probe.queue }, at === undefined ? 0 : Math.max(now() - at, 0) / 1000);
      }
    },
  });

  let eviction: EvictionWatch | undefined;
  new Gauge({ ...evictionGaugeOptions(() => eviction), registers: [registry] });

  let agreement: ConfigAgreement | undefined;
  new Gauge({
    name: 'flexprice_config_mismatch',
    help: "1 while live receivers queue event types this worker cannot process (its /readyz says which): their ENQUEUE_EVENTS or FORWARD_ROUTES differ from this worker's.",
    registers: [registry],
    collect() {
      this.set((agreement?.problems().length ?? 0) > 0 ? 1 : 0);
    },
  });
  new Gauge({
    name: 'flexprice_config_receivers',
    help: 'Live receivers that recorded their configuration under this QUEUE_PREFIX (0: receivers down, or running with another QUEUE_PREFIX).',
    registers: [registry],
    collect() {
      this.set(agreement?.receivers() ?? 0);
    },
  });

  return {
    registry,
    /** The policy read on each scrape for flexprice_redis_eviction_unsafe. */
    watchEviction(watch: EvictionWatch): void {
      eviction = watch;
    },
    /** The comparison read on each scrape for flexprice_config_mismatch and flexprice_config_receivers. */
    watchConfigAgreement(watch: ConfigAgreement): void {
      agreement = watch;
    },
    /** Queues whose gauges are read on each scrape. */
    watch(...queues: QueueProbe[]): void {
      probes.push(...queues);
    },
    jobFinished(queue: string, eventType: string, result: JobResult, seconds: number | undefined): void {
      jobs.inc({ queue, event_type: eventType, result });
      if (seconds !== undefined) jobDuration.observe({ queue, event_type: eventType }, seconds);
    },
    forwarded(route: string, statusClass: ForwardStatusClass, seconds: number): void {
      forwardDuration.observe({ route, status_class: statusClass }, seconds);
    },
    forwardWaited(queue: string): void {
      forwardWaits.inc({ queue });
    },
    apiCalled(operation: string, result: string): void {
      apiCalls.inc({ operation, result });
    },
    apiAuthorization(refused: boolean): void {
      apiUnauthorized.set(refused ? 1 : 0);
    },
    /** A state stored or forwarded (customers also count in `flexprice_customers_applied_total`, the older name). */
    entityApplied(family: string, source: 'webhook' | 'api' | 'sync'): void {
      entitiesApplied.inc({ family, source });
      if (family === 'customer') applied.inc({ source });
    },
    customerApplied(source: 'webhook' | 'api' | 'sync'): void {
      applied.inc({ source });
    },
    syncRefused(family = 'customer'): void {
      familySyncRefused.inc({ family });
      if (family === 'customer') syncRefused.inc();
    },
    syncSucceeded(family = 'customer', at: number = now()): void {
      familyLastSync.set({ family }, at / 1000);
      if (family === 'customer') lastSync.set(at / 1000);
    },
  };
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
