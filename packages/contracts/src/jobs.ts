import { z } from 'zod';
import { EVENT_TYPES, type EventType } from './event-types.js';
import type { WebhookEvent } from './events.js';
import { formatIssues, type Issue, parseEventAs } from './parse.js';
import { nonEmpty } from './schemas/common.js';
import { microsFromIso } from './versions.js';

/** How the delivery reached us; kept with the job so a replay months later still knows. */
export const receiptSchema = z.object({
  receivedAt: z.iso.datetime(),
  /** `svix-id` / `webhook-id` when the sender gave one (Svix always does, native Flexprice never). */
  deliveryId: z.string().nullable(),
  idempotencyKey: nonEmpty,
  requestId: nonEmpty,
  /** The `event_type` was not in the body and was inferred from an alert payload's shape. */
  inferredEventType: z.boolean(),
  /**
   * Redis' clock (`TIME`, µs since the epoch, 17 digits) when a receiver accepted the delivery: the
   * order of acceptance across every receiver, which versions fall back on (`versions.ts`). Absent
   * on jobs queued by receivers older than it; `receivedAt` stands in for it then.
   */
  acceptedAt: z
    .string()
    .regex(/^\d{17}$/, { error: 'must be 17 digits (microseconds since the epoch)' })
    .optional(),
});
export type Receipt = z.infer<typeof receiptSchema>;

/** When the delivery was accepted, in 17-digit microseconds (see `acceptedAt`). */
export function acceptedMicrosOf(receipt: Receipt): string {
  return receipt.acceptedAt ?? microsFromIso(receipt.receivedAt);
}

/**
 * A queued webhook: the validated event and its receipt. Small, validated, free of secrets and
 * headers. The job's name is the event type; the worker validates `event` again with the same schema.
 */
export const webhookJobSchema = z.object({
  eventType: z.enum(EVENT_TYPES as [EventType, ...EventType[]]),
  // Only that it is an object: `parseWebhookJob` validates it with its type's schema next, and a
  // `z.record` would copy every key of it first.
  event: z.custom<Record<string, unknown>>(
    (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
    { error: 'must be a JSON object' },
  ),
  receipt: receiptSchema,
});
export type WebhookJob = z.infer<typeof webhookJobSchema>;

/**
 * A webhook job's data, as the receiver queues it (the tests and the bench queue theirs the same
 * way): the event under its type, and the receipt. The job's name is the event type.
 */
export function webhookJob(eventType: EventType, event: object, receipt: Receipt): WebhookJob {
  return { eventType, event: event as Record<string, unknown>, receipt };
}

export type ParsedJob =
  | { ok: true; eventType: EventType; event: WebhookEvent; receipt: Receipt }
  | { ok: false; issues: Issue[] };

/** Validates a job's data and the event inside it; anything wrong here is permanent. */
export function parseWebhookJob(data: unknown): ParsedJob {
  const job = webhookJobSchema.safeParse(data);
  if (!job.success) return { ok: false, issues: formatIssues(job.error.issues) };
  const event = parseEventAs(job.data.eventType, job.data.event);
  if (!event.ok) return { ok: false, issues: event.issues.map((i) => ({ ...i, path: `event.${i.path}` })) };
  return { ok: true, eventType: event.eventType, event: event.event, receipt: job.data.receipt };
}

/** The retry policy and retention of every webhook job, declared once. */
export interface JobPolicy {
  /** Total tries, the first included. */
  attempts: number;
  /** First retry delay; doubles each time, with jitter. */
  backoffMs: number;
  /** Completed jobs kept for inspection (the newest ones, for a day at most). */
  keepCompleted: number;
}

/**
 * The backoff type of webhook jobs. Not one of BullMQ's built-ins: workers register
 * `webhookBackoffDelay` as their backoff strategy, so a downstream's `Retry-After` is honoured.
 */
export const WEBHOOK_BACKOFF_TYPE = 'flexprice-exponential';

/** The longest wait between two tries, whatever a `Retry-After` asks for. */
export const MAX_BACKOFF_MS = 60 * 60 * 1000;

/**
 * Delay before the next try: exponential from `baseDelayMs` (1×, 2×, 4×, …) with ±50 % jitter, so
 * many jobs failing together do not retry in lockstep; at least `retryAfterMs` when the downstream
 * said when to come back; never more than an hour.
 */
export function webhookBackoffDelay(
  attemptsMade: number,
  baseDelayMs: number,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(2 ** Math.max(attemptsMade - 1, 0) * baseDelayMs, MAX_BACKOFF_MS);
  const jittered = Math.floor(ceiling * (0.5 + random() * 0.5));
  return Math.min(Math.max(jittered, retryAfterMs ?? 0), MAX_BACKOFF_MS);
}

/**
 * The shortest time over which a job's tries are spread: the sum of the smallest (jitter-low)
 * delays between its `attempts` tries. A target down for less than that never dead-letters a job.
 */
export function shortestRetrySpanMs(attempts: number, baseDelayMs: number): number {
  let span = 0;
  for (let attemptsMade = 1; attemptsMade < attempts; attemptsMade += 1) {
    span += webhookBackoffDelay(attemptsMade, baseDelayMs, undefined, () => 0);
  }
  return span;
}

/**
 * BullMQ job options for a webhook job. Completed jobs are trimmed (bounded memory); failed ones are
 * kept: the failed set is the dead-letter queue and replay reads it.
 */
export function webhookJobOptions(policy: JobPolicy) {
  return {
    attempts: policy.attempts,
    backoff: { type: WEBHOOK_BACKOFF_TYPE, delay: policy.backoffMs },
    // 0: removed at once (BullMQ's cheapest path: the job is deleted, not added to a set and trimmed).
    removeOnComplete: policy.keepCompleted === 0 ? true : { age: 24 * 3600, count: policy.keepCompleted },
    removeOnFail: false,
  };
}
