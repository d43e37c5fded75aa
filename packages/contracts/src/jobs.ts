import { z } from 'zod';
import { EVENT_TYPES, type EventType } from './event-types.js';
import { type ParseResult, parseEventAs } from './parse.js';
import { nonEmpty } from './schemas/common.js';

/** How the delivery reached us; kept with the job so a replay months later still knows. */
export const receiptSchema = z.object({
  receivedAt: z.iso.datetime(),
  /** `svix-id` / `webhook-id` when the sender gave one (Svix always does, native Flexprice never). */
  deliveryId: z.string().nullable(),
  idempotencyKey: nonEmpty,
  requestId: nonEmpty,
  /** The `event_type` was not in the body and was inferred from an alert payload's shape. */
  inferredEventType: z.boolean(),
});
export type Receipt = z.infer<typeof receiptSchema>;

/**
 * A queued webhook: the validated event and its receipt. Small, validated, free of secrets and
 * headers. The job's name is the event type; the worker validates `event` again with the same schema.
 */
export const webhookJobSchema = z.object({
  eventType: z.enum(EVENT_TYPES as [EventType, ...EventType[]]),
  event: z.record(z.string(), z.unknown()),
  receipt: receiptSchema,
});
export type WebhookJob = z.infer<typeof webhookJobSchema>;

/** Validates a job's data and the event inside it; anything wrong here is permanent. */
export function parseWebhookJob(data: unknown): ParseResult<WebhookJob> {
  const job = webhookJobSchema.safeParse(data);
  if (!job.success) {
    return {
      ok: false,
      issues: job.error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message })),
    };
  }
  const event = parseEventAs(job.data.eventType, job.data.event);
  if (!event.ok) return { ok: false, issues: event.issues.map((i) => ({ ...i, path: `event.${i.path}` })) };
  return { ok: true, eventType: job.data.eventType, event: job.data };
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
 * BullMQ job options for a webhook job. Completed jobs are trimmed (bounded memory); failed ones are
 * kept: the failed set is the dead-letter queue and replay reads it.
 */
export function webhookJobOptions(policy: JobPolicy) {
  return {
    attempts: policy.attempts,
    backoff: { type: 'exponential', delay: policy.backoffMs, jitter: 0.5 },
    removeOnComplete: { age: 24 * 3600, count: policy.keepCompleted },
    removeOnFail: false,
  } as const;
}
