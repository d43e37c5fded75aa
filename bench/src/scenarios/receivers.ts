import { receiverEnv } from '../apps.js';
import type { BenchContext } from '../context.js';
import { poolSize } from '../deliveries.js';
import type { LoadResult } from '../load.js';
import { cpuMicros, median, pidOf, waitHttp } from '../processes.js';
import { freePort } from '../testing.js';
import { CONTENDERS, type Contender, type ReceiverId } from './contenders.js';
import type { Scenario } from './scenario.js';

/** One receiver's medians over the rounds, per accepted (2xx) webhook where it says so. */
export interface ReceiverResult {
  label: string;
  /** Accepted webhooks per second. */
  rps: number;
  /** Client-side latency, ms. */
  p50: number;
  p99: number;
  /** Non-2xx answers, summed over the rounds. */
  non2xx: number;
  /** From `INFO commandstats` deltas; commands inside Lua scripts count. */
  redisCommandsPerAccepted: number;
  appCpuMicrosPerAccepted: number;
  redisCpuMicrosPerAccepted: number;
  /** Each round's req/s, rounded. */
  rounds: number[];
}

export type ReceiversResult = Record<ReceiverId, ReceiverResult>;

export interface Sample extends LoadResult {
  redisCommandsPerAccepted: number;
  appCpuMicrosPerAccepted: number;
  redisCpuMicrosPerAccepted: number;
}

/** One round of one receiver: started afresh on a flushed Redis, warmed up, then measured. */
export async function measure(
  ctx: BenchContext,
  contender: Contender,
  env: Record<string, string> = {},
): Promise<Sample> {
  const { options, redis, processes } = ctx;
  await redis.flush();
  const port = await freePort();
  const child = processes.start(contender.script, receiverEnv(ctx, port, env));
  try {
    await waitHttp(`http://127.0.0.1:${port}/healthz`);
    await ctx.load(port, ctx.pool(poolSize(1), contender.auth), { seconds: 1 }); // warm-up (JIT, connections)
    const pool = ctx.pool(poolSize(options.seconds), contender.auth);
    const before = { calls: await redis.commandCalls(), app: cpuMicros(pidOf(child)), redis: redis.cpuMicros() };
    const measured = await ctx.load(port, pool, { seconds: options.seconds });
    const accepted = Math.max(measured.accepted, 1);
    const calls = (await redis.commandCalls()) - before.calls;
    return {
      ...measured,
      redisCommandsPerAccepted: contender.usesRedis ? calls / accepted : 0,
      appCpuMicrosPerAccepted: (cpuMicros(pidOf(child)) - before.app) / accepted,
      redisCpuMicrosPerAccepted: (redis.cpuMicros() - before.redis) / accepted,
    };
  } finally {
    await processes.stop(child);
  }
}

/** The medians of one receiver's rounds (sums for the non-2xx), and each round's req/s. */
export function summarise(label: string, runs: Sample[]): ReceiverResult {
  const of = (pick: (sample: Sample) => number) => median(runs.map(pick));
  return {
    label,
    rps: of((r) => r.rps),
    p50: of((r) => r.p50),
    p99: of((r) => r.p99),
    non2xx: runs.reduce((sum, r) => sum + r.non2xx, 0),
    redisCommandsPerAccepted: of((r) => r.redisCommandsPerAccepted),
    appCpuMicrosPerAccepted: of((r) => r.appCpuMicrosPerAccepted),
    redisCpuMicrosPerAccepted: of((r) => r.redisCpuMicrosPerAccepted),
    rounds: runs.map((r) => Math.round(r.rps)),
  };
}

/**
 * Bare Express, the naive receiver, ours (Svix-signed and static header) and the minimal receiver
 * under the same load. Interleaved rounds, the order rotating each round, and the median of each:
 * one slow minute of the machine then hurts every contender alike instead of deciding a ratio.
 */
export const receivers: Scenario<'receivers', ReceiversResult> = {
  id: 'receivers',
  title: 'throughput, latency, Redis commands and CPU per accepted webhook',
  async run(ctx) {
    const { rounds } = ctx.options;
    const samples = new Map<ReceiverId, Sample[]>(CONTENDERS.map((c) => [c.id, []]));
    for (let round = 0; round < rounds; round += 1) {
      const order = CONTENDERS.map((_, k) => CONTENDERS[(k + round) % CONTENDERS.length] as Contender);
      for (const contender of order) {
        ctx.log(`receiver, round ${round + 1}/${rounds}: ${contender.label}`);
        samples.get(contender.id)?.push(await measure(ctx, contender));
      }
    }
    const summary = (c: Contender) => summarise(c.label, samples.get(c.id) ?? []);
    return Object.fromEntries(CONTENDERS.map((c) => [c.id, summary(c)])) as ReceiversResult;
  },
};
