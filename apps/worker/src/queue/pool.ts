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
  /** The queues to consume at start, each with its family (one per family, or one per shard). */
  queues: readonly ConsumedQueue[];
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

export interface ConsumedQueue {
  family: Family;
  /** The queue's name: the family's, or one of its shards' (contracts' `shards.ts`). */
  name: string;
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
 * One BullMQ worker per consumed queue (a family's, or each of its shards'). The consumer is
 * patient: its connections retry forever (`maxRetriesPerRequest: null`) and a worker whose run loop
 * stopped (Redis gone for long) is re-created. Failures are logged here, once, by the `failed`
 * listener. Metrics are labelled by the family's queue, whatever the shard (a label set that does
 * not grow with QUEUE_SHARDS).
 */
export function startWorkerPool(options: WorkerPoolOptions) {
  const { logger } = options;
  const workers = new Map<string, { family: Family; worker: Worker }>();
  // BullMQ leaves a connection it was given open: each worker's is ours to close, with the worker.
  const connections = new Map<Worker, RedisClient>();
  let closing = false;

  function create({ family, name }: ConsumedQueue): Worker {
    const queue = queueNameOf(family);
    const connection = createRedis(options.redis, 'consumer');
    connection.on('error', () => {}); // reported by the worker's 'error' listener
    const worker = new Worker(name, options.processor, {
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

  /** Consumes a queue from now on (once: a queue already consumed is left as it is). */
  function consume(queue: ConsumedQueue): void {
    if (closing || workers.has(queue.name)) return;
    workers.set(queue.name, { family: queue.family, worker: create(queue) });
  }

  for (const queue of options.queues) consume(queue);
  logger.info({ queues: options.queues.map(({ name }) => name), concurrency: options.concurrency }, 'workers started');

  const supervisor = setInterval(() => {
    if (closing) return;
    for (const [name, { family, worker }] of workers) {
      if (worker.isRunning() || worker.closing !== undefined) continue;
      logger.error({ queue: name }, 'worker stopped running: re-creating it');
      retire(worker);
      workers.set(name, { family, worker: create({ family, name }) });
    }
  }, options.superviseEveryMs ?? 5_000);
  supervisor.unref();

  const all = () => [...workers.values()].map(({ worker }) => worker);

  return {
    isRunning: () => !closing && all().every((worker) => worker.isRunning()),

    consume,

    /** The BullMQ worker of each consumed queue now (the supervisor replaces one that stopped). */
    workers: {
      get: (name: string) => workers.get(name)?.worker,
      names: () => [...workers.keys()],
    },

    /**
     * Stops taking jobs and waits for the active ones, up to `timeoutMs`. Jobs still running then
     * are abandoned: their locks expire and another worker retries them. Resolves true when every
     * active job finished in time.
     */
    async close(timeoutMs: number): Promise<boolean> {
      closing = true;
      clearInterval(supervisor);
      let timer: NodeJS.Timeout | undefined;
      const drained = Promise.all(all().map((worker) => worker.close())).then(() => true);
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
        for (const worker of all()) void worker.close(true).catch(() => undefined);
        for (const connection of connections.values()) connection.disconnect();
      }
      return finished;
    },
  };
}

export type WorkerPool = ReturnType<typeof startWorkerPool>;
