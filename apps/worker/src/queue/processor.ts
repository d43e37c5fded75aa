import { type EventOf, type EventType, parseWebhookJob } from '@flexprice/contracts';
import { redactUrlsIn } from '@flexprice/runtime';
import { type Job, UnrecoverableError } from 'bullmq';
import type { Logger } from 'pino';
import type { HandlerContext, HandlerRegistry, HandlerResult } from '../handlers/types.js';

function dispatch<T extends EventType>(
  handlers: HandlerRegistry,
  eventType: T,
  event: EventOf<T>,
  context: HandlerContext,
): Promise<HandlerResult> {
  const handler = handlers[eventType];
  if (!handler)
    throw new UnrecoverableError(`no handler for ${eventType}: add one to handlers/registry.ts, then replay`);
  return handler(event, context);
}

/**
 * What BullMQ keeps of a failure (the job's `failedReason` and stack trace, shown by the dashboard
 * and `pnpm dlq list`) and the worker logs: with every URL in it redacted, whoever wrote the message
 * (a library quoting the URL it failed on, password and all). The same error, so that its class
 * still decides retries.
 */
function redacted(error: unknown): unknown {
  if (error instanceof Error) {
    error.message = redactUrlsIn(error.message);
    if (error.stack) error.stack = redactUrlsIn(error.stack);
  }
  return error;
}

/**
 * Turns a job into a handler call. The job's data is validated again with the same contracts the
 * receiver used: data that does not parse never will, so it fails permanently.
 */
export function createProcessor(handlers: HandlerRegistry, logger: Logger) {
  return async function process(job: Job, token?: string): Promise<HandlerResult> {
    const parsed = parseWebhookJob(job.data);
    if (!parsed.ok) {
      const detail = parsed.issues.map((issue) => `${issue.path || '(root)'}: ${issue.message}`).join('; ');
      throw new UnrecoverableError(`invalid job data: ${detail}`);
    }
    if (job.name !== parsed.eventType) {
      throw new UnrecoverableError(`job name "${job.name}" does not match its event type "${parsed.eventType}"`);
    }
    // Made when a handler first logs: most jobs log nothing but the pool's one line per job, and
    // a pino child serializes its bindings when it is made.
    let log: Logger | undefined;
    try {
      return await dispatch(handlers, parsed.eventType, parsed.event, {
        eventType: parsed.eventType,
        job,
        token,
        receipt: parsed.receipt,
        get log() {
          log ??= logger.child({
            jobId: job.id,
            eventType: parsed.eventType,
            idempotencyKey: parsed.receipt.idempotencyKey,
            requestId: parsed.receipt.requestId,
          });
          return log;
        },
      });
    } catch (error) {
      throw redacted(error);
    }
  };
}
