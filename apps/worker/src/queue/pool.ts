import { type Family, queueNameOf, webhookBackoffDelay } from '@flexprice/contracts';
import { createRedis, type RedisClient, type RedisTarget } from '@flexprice/runtime';
import { type MinimalJob, type Processor, UnrecoverableError, Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { JobResult, WorkerMetrics } from '../metrics.js';
import { FlexpriceApiError } from '../outbound/flexprice-api.js';
import { RetryableForwardError } from '../outbound/forwarder.js';

export interface WorkerPoolOptions {
  redis: RedisTarget;
  prefix: string;
  families: readonly Family[];
  processor: Processor;
  concurrency: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  maxStalledCount: number;
  logger: Logger;
  metrics: WorkerMetrics;
  /** How often a stopped worker is looked for (and re-created). */
  superviseEveryMs?: number;
}

/** What ties a job's log lines to the webhook's request: its request id and idempotency key. */
function trace(job: MinimalJob | undefined): { requestId?: unknown; idempotencyKey?: unknown } {
  const receipt = (job?.data as { receipt?: { requestId?: unknown; idempotencyKey?: unknown } } | undefined)?.receipt;
  return { requestId: receipt?.requestId, idempotencyKey: receipt?.idempotencyKey };
}

/** How long the try took; a try that will be retried has no `finishedOn`, it just ended. */
function secondsOf(job: MinimalJob): number | undefined {
  return job.processedOn ? ((job.finishedOn ?? Date.now()) - job.processedOn) / 1000 : undefined;
}

function baseDelayOf(job: MinimalJob | undefined): number {
  const backoff = job?.opts.backoff;
  if (typeof backoff === 'number') return backoff;
  return backoff?.delay ?? 1000;
}

/**
 * One BullMQ worker per family that has handlers. The consumer is patient: its connections retry
 * forever (`maxRetriesPerRequest: null`) and a worker whose run loop stopped (Redis gone for long)
 * is re-created. Failures are logged here, once, by the `failed` listener.
 */
export function startWorkerPool(options: WorkerPoolOptions) {
  const { logger } = options;
  const workers = new Map<Family, Worker>();
  // BullMQ leaves a connection it was given open: each worker's is ours to close, with the worker.
  const connections = new Map<Worker, RedisClient>();
  let closing = false;

  function create(family: Family): Worker {
    const queue = queueNameOf(family);
    const connection = createRedis(options.redis, 'consumer');
    connection.on('error', () => {}); // reported by the worker's 'error' listener
    const worker = new Worker(queue, options.processor, {
      connection,
      prefix: options.prefix,
      concurrency: options.concurrency,
      lockDuration: options.lockDurationMs,
      stalledInterval: options.stalledIntervalMs,
      maxStalledCount: options.maxStalledCount,
      settings: {
        // Jobs carry the `flexprice-exponential` backoff type: exponential with jitter, and at least
        // what a forward target's (or Flexprice's API's) Retry-After asked for.
        backoffStrategy: (attemptsMade, _type, err, job) =>
          webhookBackoffDelay(
            attemptsMade,
            baseDelayOf(job),
            err instanceof RetryableForwardError || err instanceof FlexpriceApiError ? err.retryAfterMs : undefined,
          ),
      },
    });
    worker.on('completed', (job, result: unknown) => {
      const outcome = (result as { outcome?: unknown } | undefined)?.outcome;
      const kind: JobResult = typeof outcome === 'string' && outcome.startsWith('skipped') ? 'skipped' : 'completed';
      options.metrics.jobFinished(queue, job.name, kind, secondsOf(job));
      logger.info(
        { queue, jobId: job.id, eventType: job.name, ...trace(job), result, attempts: job.attemptsMade },
        'job completed',
      );
    });
    worker.on('failed', (job, err) => {
      const attempts = job?.opts.attempts ?? 1;
      const final = !job || err instanceof UnrecoverableError || job.attemptsMade >= attempts;
      options.metrics.jobFinished(queue, job?.name ?? 'unknown', final ? 'failed' : 'retried', job && secondsOf(job));
      const context = {
        queue,
        jobId: job?.id,
        eventType: job?.name,
        ...trace(job),
        attempt: job?.attemptsMade,
        attempts,
        err: { name: err.name, message: err.message },
      };
      if (final) logger.error(context, 'job failed for good: it stays in the failed set (pnpm dlq list)');
      else logger.warn(context, 'job failed, will retry');
    });
    worker.on('stalled', (jobId) => logger.warn({ queue, jobId }, 'job stalled (its worker died); it is retried'));
    worker.on('error', (err) => logger.warn({ queue, err: { name: err.name, message: err.message } }, 'worker error'));
    connections.set(worker, connection);
    return worker;
  }

  /** Closes a worker that stopped (without waiting for it) and its connection. */
  function retire(worker: Worker): void {
    const connection = connections.get(worker);
    connections.delete(worker);
    void worker
      .close(true)
      .catch(() => undefined)
      .finally(() => connection?.disconnect());
  }

  for (const family of options.families) workers.set(family, create(family));
  logger.info({ queues: options.families.map(queueNameOf), concurrency: options.concurrency }, 'workers started');

  const supervisor = setInterval(() => {
    if (closing) return;
    for (const [family, worker] of workers) {
      if (worker.isRunning() || worker.closing !== undefined) continue;
      logger.error({ queue: queueNameOf(family) }, 'worker stopped running: re-creating it');
      retire(worker);
      workers.set(family, create(family));
    }
  }, options.superviseEveryMs ?? 5_000);
  supervisor.unref();

  return {
    isRunning: () => !closing && [...workers.values()].every((worker) => worker.isRunning()),

    /** The BullMQ worker of each consumed family now (the supervisor replaces one that stopped). */
    workers: workers as ReadonlyMap<Family, Worker>,

    /**
     * Stops taking jobs and waits for the active ones, up to `timeoutMs`. Jobs still running then
     * are abandoned: their locks expire and another worker retries them. Resolves true when every
     * active job finished in time.
     */
    async close(timeoutMs: number): Promise<boolean> {
      closing = true;
      clearInterval(supervisor);
      let timer: NodeJS.Timeout | undefined;
      const drained = Promise.all([...workers.values()].map((worker) => worker.close())).then(() => true);
      const timedOut = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      const finished = await Promise.race([drained, timedOut]);
      clearTimeout(timer);
      if (finished) {
        await Promise.all(
          [...connections.values()].map((connection) => connection.quit().catch(() => connection.disconnect())),
        );
      } else {
        // Even a forced close waits for the running processors, which nothing can cancel. The
        // process is about to exit: their locks lapse and another worker retries those jobs.
        for (const worker of workers.values()) void worker.close(true).catch(() => undefined);
        for (const connection of connections.values()) connection.disconnect();
      }
      return finished;
    },
  };
}

export type WorkerPool = ReturnType<typeof startWorkerPool>;
