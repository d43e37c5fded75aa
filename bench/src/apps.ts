import type { ChildProcess } from 'node:child_process';
import type { BenchContext } from './context.js';
import { SCRIPTS } from './paths.js';
import { waitHttp } from './processes.js';
import { freePort, TEST_SECRET, TEST_STATIC_AUTH } from './testing.js';

/** A receiver's environment (ours, or a baseline: they read what they need of it). */
export function receiverEnv(ctx: BenchContext, port: number, extra: Record<string, string> = {}) {
  return {
    REDIS_URL: ctx.redis.url,
    PORT: String(port),
    HOST: '127.0.0.1',
    // Ours serves its metrics on a port of its own: any free one, so that runs never collide.
    RECEIVER_METRICS_PORT: '0',
    RECEIVER_METRICS_HOST: '127.0.0.1',
    FLEXPRICE_WEBHOOK_SECRET: TEST_SECRET,
    FLEXPRICE_WEBHOOK_AUTH_HEADER: TEST_STATIC_AUTH.header,
    FLEXPRICE_WEBHOOK_AUTH_TOKEN: TEST_STATIC_AUTH.token,
    JOB_KEEP_COMPLETED: '100000',
    ...extra,
  };
}

/** A worker's environment, with its metrics server on `metricsPort`. */
export function workerEnv(ctx: BenchContext, metricsPort: number, extra: Record<string, string> = {}) {
  return {
    REDIS_URL: ctx.redis.url,
    WORKER_METRICS_PORT: String(metricsPort),
    WORKER_METRICS_HOST: '127.0.0.1',
    ...extra,
  };
}

export interface System {
  /** The receiver's port. */
  port: number;
  receiver: ChildProcess;
  worker: ChildProcess;
}

/** Our receiver and our worker, both ready; the caller stops them (`stopSystem`, in a `finally`). */
export async function startSystem(
  ctx: BenchContext,
  receiverExtra: Record<string, string> = {},
  workerExtra: Record<string, string> = {},
): Promise<System> {
  const port = await freePort();
  const metricsPort = await freePort();
  const receiver = ctx.processes.start(SCRIPTS.receiver, receiverEnv(ctx, port, receiverExtra));
  const worker = ctx.processes.start(SCRIPTS.worker, workerEnv(ctx, metricsPort, workerExtra));
  const system = { port, receiver, worker };
  try {
    await waitHttp(`http://127.0.0.1:${port}/healthz`);
    await waitHttp(`http://127.0.0.1:${metricsPort}/readyz`);
  } catch (error) {
    await stopSystem(ctx, system);
    throw error;
  }
  return system;
}

export async function stopSystem(ctx: BenchContext, system: System | undefined): Promise<void> {
  if (!system) return;
  await Promise.all([ctx.processes.stop(system.receiver), ctx.processes.stop(system.worker)]);
}
