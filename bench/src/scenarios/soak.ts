import { type System, startSystem, stopSystem } from '../apps.js';
import type { BenchContext } from '../context.js';
import { median, pidOf, rssMiB } from '../processes.js';
import type { Scenario } from './scenario.js';

export interface MemorySample {
  receiverRssMiB: number;
  workerRssMiB: number;
  redisUsedMemoryMiB: number;
}

export interface SoakResult {
  offeredRps: number;
  acceptedRps: number;
  non2xx: number;
  /** Memory samples taken (one every 10 s, and one at the start). */
  samples: number;
  /** Medians of the first and of the last minute's samples. */
  before: MemorySample;
  after: MemorySample;
  peak: MemorySample;
}

const WARM_UP_SECONDS = 90;
const SOAK_SECONDS = 300;
const SAMPLE_EVERY_MS = 10_000;
/** Samples per minute. */
const MINUTE = 60_000 / SAMPLE_EVERY_MS;
const KEYS = ['receiverRssMiB', 'workerRssMiB', 'redisUsedMemoryMiB'] as const;

function combine(samples: MemorySample[], of: (values: number[]) => number): MemorySample {
  const [receiverRssMiB, workerRssMiB, redisUsedMemoryMiB] = KEYS.map((key) => of(samples.map((s) => s[key])));
  return {
    receiverRssMiB: receiverRssMiB ?? Number.NaN,
    workerRssMiB: workerRssMiB ?? Number.NaN,
    redisUsedMemoryMiB: redisUsedMemoryMiB ?? Number.NaN,
  };
}

async function memory(ctx: BenchContext, system: System): Promise<MemorySample> {
  return {
    receiverRssMiB: rssMiB(pidOf(system.receiver)),
    workerRssMiB: rssMiB(pidOf(system.worker)),
    redisUsedMemoryMiB: await ctx.redis.usedMemoryMiB(),
  };
}

/**
 * Memory before and after 5 minutes of steady load (after 90 s of warm-up at the same rate).
 * A window of completed jobs (JOB_KEEP_COMPLETED 1000; the default keeps none) but one-minute
 * dedupe and delivery marks (and a 30 s signature tolerance, which a one-minute dedupe window
 * requires), so that five minutes reach the steady state a real deployment reaches after 72 h /
 * 7 d; 1,000 customers updated over and over, so the store itself stays the same size.
 */
export const soak: Scenario<'soak', SoakResult> = {
  id: 'soak',
  title: 'memory before and after 5 minutes at a steady rate',
  async run(ctx) {
    const { rate } = ctx.options;
    await ctx.redis.flush();
    let system: System | undefined;
    let sampler: NodeJS.Timeout | undefined;
    try {
      system = await startSystem(
        ctx,
        { JOB_KEEP_COMPLETED: '1000', DEDUPE_TTL_SECONDS: '60', FLEXPRICE_WEBHOOK_TOLERANCE_SECONDS: '30' },
        { DELIVERY_PIN_TTL: '1m' },
      );
      const running = system;
      ctx.log(`soak: ${WARM_UP_SECONDS} s of warm-up at ${rate} req/s`);
      await ctx.load(running.port, ctx.pool(rate * (WARM_UP_SECONDS + 2), 'signed', 1_000), {
        seconds: WARM_UP_SECONDS,
        overallRate: rate,
      });
      // A sample every 10 s: one reading lands anywhere on the garbage collector's sawtooth (the
      // receiver's RSS moves 120-155 MiB within a minute at this load), so the first and the last
      // minute are each summarised by their median.
      const samples: MemorySample[] = [];
      sampler = setInterval(() => {
        memory(ctx, running).then(
          (sample) => samples.push(sample),
          () => {},
        );
      }, SAMPLE_EVERY_MS);
      ctx.log(`soak: 5 minutes at ${rate} req/s`);
      const pool = ctx.pool(rate * (SOAK_SECONDS + 10), 'signed', 1_000);
      samples.push(await memory(ctx, running));
      const measured = await ctx.load(running.port, pool, { seconds: SOAK_SECONDS, overallRate: rate });
      clearInterval(sampler);
      return {
        offeredRps: rate,
        acceptedRps: measured.rps,
        non2xx: measured.non2xx,
        samples: samples.length,
        before: combine(samples.slice(0, MINUTE), median),
        after: combine(samples.slice(-MINUTE), median),
        peak: combine(samples, (values) => Math.max(...values)),
      };
    } finally {
      clearInterval(sampler);
      await stopSystem(ctx, system);
    }
  },
};
