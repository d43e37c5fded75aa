import { isEventType } from '@flexprice/contracts';
import { type EvictionWatch, evictionGaugeOptions } from '@flexprice/runtime';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { WebhookOutcome } from './outcome.js';

/** Latencies of a webhook request: most well under 10 ms, the tail in the hundreds. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * The receiver's Prometheus metrics, in a registry of its own (so tests and several apps in one
 * process never share counters). `event_type` is one of Flexprice's 57 names, `unknown` for any
 * other string (a sender cannot blow up the label set), or `none` when the request never got that far.
 */
export function createReceiverMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'flexprice_webhook_requests_total',
    help: 'Webhook requests by event type and outcome.',
    labelNames: ['event_type', 'outcome'] as const,
    registers: [registry],
  });
  const requestDuration = new Histogram({
    name: 'flexprice_webhook_request_duration_seconds',
    help: 'Time from the first byte of a webhook request to its answer.',
    labelNames: ['outcome'] as const,
    buckets: BUCKETS,
    registers: [registry],
  });
  const enqueueDuration = new Histogram({
    name: 'flexprice_webhook_enqueue_duration_seconds',
    help: 'Time Redis took to accept a job (or to fail to).',
    labelNames: ['result'] as const,
    buckets: BUCKETS,
    registers: [registry],
  });

  let eviction: EvictionWatch | undefined;
  new Gauge({ ...evictionGaugeOptions(() => eviction), registers: [registry] });

  return {
    registry,
    /** The policy read on each scrape for flexprice_redis_eviction_unsafe. */
    watchEviction(watch: EvictionWatch): void {
      eviction = watch;
    },
    /** Times one enqueue. */
    observeEnqueue(result: 'queued' | 'duplicate' | 'unavailable' | 'error', seconds: number): void {
      enqueueDuration.observe({ result }, seconds);
    },
    /** Counts one webhook request, when its answer is sent. */
    observeRequest(webhook: Pick<WebhookOutcome, 'outcome' | 'eventType'>, seconds: number): void {
      const type = webhook.eventType;
      const eventType = type === undefined ? 'none' : isEventType(type) ? type : 'unknown';
      requests.inc({ event_type: eventType, outcome: webhook.outcome });
      requestDuration.observe({ outcome: webhook.outcome }, seconds);
    },
  };
}

export type ReceiverMetrics = ReturnType<typeof createReceiverMetrics>;
