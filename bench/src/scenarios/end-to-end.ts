import type { WebhookJob } from '@flexprice/contracts';
import { Queue } from 'bullmq';
import { type System, startSystem, stopSystem } from '../apps.js';
import { sleep } from '../processes.js';
import type { Scenario } from './scenario.js';

export interface EndToEndResult {
  offeredRps: number;
  acceptedRps: number;
  /** Completed jobs the latencies are of. */
  processed: number;
  httpP50ms: number;
  httpP99ms: number;
  /** From the receiver taking the webhook (`receipt.receivedAt`) to the worker finishing its job. */
  toProcessedP50ms: number | null;
  toProcessedP99ms: number | null;
}

const SECONDS = 10;

/** Our receiver and worker at a fixed offered rate (BENCH_RATE): POST → processed. */
export const endToEnd: Scenario<'endToEnd', EndToEndResult> = {
  id: 'endToEnd',
  title: 'HTTP latency and received → processed at a fixed rate',
  async run(ctx) {
    const { rate } = ctx.options;
    await ctx.redis.flush();
    let system: System | undefined;
    const queue = new Queue<WebhookJob>('flexprice.customer', { connection: ctx.redis.client });
    try {
      system = await startSystem(ctx);
      ctx.log(`end to end at ${rate} req/s`);
      const measured = await ctx.load(system.port, ctx.pool(rate * (SECONDS + 2), 'signed'), {
        seconds: SECONDS,
        overallRate: rate,
      });
      await sleep(2_000);
      const jobs = await queue.getJobs(['completed'], 0, -1);
      const latencies = jobs
        .map((job) => (job.finishedOn ?? Number.NaN) - Date.parse(job.data.receipt.receivedAt))
        .filter(Number.isFinite)
        .sort((a, b) => a - b);
      const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? null;
      return {
        offeredRps: rate,
        acceptedRps: measured.rps,
        processed: latencies.length,
        httpP50ms: measured.p50,
        httpP99ms: measured.p99,
        toProcessedP50ms: at(0.5),
        toProcessedP99ms: at(0.99),
      };
    } finally {
      await queue.close();
      await stopSystem(ctx, system);
    }
  },
};
