import type { EventOf, EventType, Receipt } from '@flexprice/contracts';
import type { Job } from 'bullmq';
import type { Logger } from 'pino';

export interface HandlerContext {
  /** The job's event type (for alerts delivered without `event_type`, the one inferred). */
  eventType: EventType;
  job: Job;
  /** The processor's lock token: what `job.moveToDelayed` needs. Absent when called outside a worker. */
  token?: string | undefined;
  receipt: Receipt;
  /** A child logger carrying the job id, event type, idempotency key and request id. */
  log: Logger;
}

/** What a handler did; stored as the job's return value, so the dashboard and CLI can show it. */
export interface HandlerResult {
  /** E.g. `applied`, `unchanged` (stored before: a retry, a replay), `skipped_stale`, `skipped_tombstone`. */
  outcome: string;
  forwarded?: 'sent' | 'already' | 'disabled' | 'skipped';
}

/**
 * Handles one validated event. Throws to fail the try: a plain Error is retried with backoff,
 * an UnrecoverableError goes straight to the failed set. Never catches and returns on failure.
 */
export type Handler<T extends EventType> = (event: EventOf<T>, context: HandlerContext) => Promise<HandlerResult>;

export type HandlerRegistry = { [T in EventType]?: Handler<T> };
