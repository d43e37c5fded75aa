import type { ChildProcess } from 'node:child_process';
import { Queue } from 'bullmq';
import { receiverEnv, workerEnv } from '../apps.js';
import type { BenchContext } from '../context.js';
import { SCRIPTS } from '../paths.js';
import { cpuMicros, median, pidOf, sleep, waitHttp } from '../processes.js';
import { freePort } from '../testing.js';
import type { Scenario } from './scenario.js';

/** What one pair (receiver + worker) cost per webhook in one round. */
export interface PairCost {
  webhooks: number;
  /** CPU (user + system) per accepted webhook, in µs, from the stream's start to the queue drained. */
  receiverMicros: number;
  workerMicros: number;
  redisMicros: number;
  /** receiver + worker + Redis. */
  wholeMicros: number;
  /** Redis commands per webhook (inside scripts too; the bench's own polling left in, for both). */
  redisCommands: number;
}

export interface SystemCostRound {
  ours: PairCost;
  naive: PairCost;
  /** ours / naive, this round. */
  wholeRatio: number;
  redisRatio: number;
}

export interface SystemCostResult {
  rate: number;
  seconds: number;
  rounds: SystemCostRound[];
  /** Medians of the per-round ratios (goals: whole ≤ 1.25, Redis ≤ 1.0). */
  wholeRatio: number;
  redisRatio: number;
  ours: PairCost;
  naive: PairCost;
}

const SECONDS = 10;

interface Pair {
  id: 'ours' | 'naive';
  receiver: string;
  worker: string;
  /** BullMQ's key prefix of the pair's queue. */
  prefix: string;
  /** Whether the worker answers /readyz on its metrics port. */
  readyz: boolean;
}

const PAIRS: Record<'ours' | 'naive', Pair> = {
  ours: { id: 'ours', receiver: SCRIPTS.receiver, worker: SCRIPTS.worker, prefix: 'bull', readyz: true },
  naive: { id: 'naive', receiver: SCRIPTS.naiveReceiver, worker: SCRIPTS.naiveWorker, prefix: 'naive', readyz: false },
};

/**
 * One pair under a steady stream of Svix-signed customer.created deliveries at BENCH_RATE for 10 s,
 * drained by its worker as they come (customers stored; ours with production retention): the CPU
 * of the receiver, the worker and Redis per webhook, from the first request to the queue empty.
 */
async function measure(ctx: BenchContext, pair: Pair): Promise<PairCost> {
  const { processes } = ctx;
  await ctx.redis.flush();
  const port = await freePort();
  const metricsPort = await freePort();
  // The apps' own defaults (the bench's other scenarios keep 100,000 completed jobs to read them back).
  const { JOB_KEEP_COMPLETED: _kept, ...env } = receiverEnv(ctx, port);
  const receiver: ChildProcess = processes.start(pair.receiver, env);
  const worker: ChildProcess = processes.start(pair.worker, workerEnv(ctx, metricsPort, { QUEUE_PREFIX: pair.prefix }));
  const queue = new Queue('flexprice.customer', { connection: ctx.redis.client, prefix: pair.prefix });
  try {
    await waitHttp(`http://127.0.0.1:${port}/healthz`).catch(async () => {
      // The naive receiver has no health route: any answer on the port will do.
      await waitHttp(`http://127.0.0.1:${port}/webhooks/flexprice`);
    });
    if (pair.readyz) await waitHttp(`http://127.0.0.1:${metricsPort}/readyz`);
    await sleep(1_000);
    const cpu = () => ({
      receiver: cpuMicros(pidOf(receiver)),
      worker: cpuMicros(pidOf(worker)),
      redis: ctx.redis.cpuMicros(),
    });
    const before = { ...cpu(), commands: await ctx.redis.commandCalls() };
    const pool = ctx.pool(Math.ceil(ctx.options.rate * (SECONDS + 2)), 'signed');
    const measured = await ctx.load(port, pool, { seconds: SECONDS, overallRate: ctx.options.rate });
    const deadline = Date.now() + 60_000;
    for (;;) {
      const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      if (Object.values(c).every((n) => n === 0)) break;
      if (Date.now() > deadline) throw new Error(`${pair.id}: the queue did not drain within 60 s`);
      await sleep(100);
    }
    const after = { ...cpu(), commands: await ctx.redis.commandCalls() };
    const n = measured.accepted;
    const per = (micros: number) => micros / n;
    const receiverMicros = per(after.receiver - before.receiver);
    const workerMicros = per(after.worker - before.worker);
    const redisMicros = per(after.redis - before.redis);
    return {
      webhooks: n,
      receiverMicros,
      workerMicros,
      redisMicros,
      wholeMicros: receiverMicros + workerMicros + redisMicros,
      redisCommands: (after.commands - before.commands) / n,
    };
  } finally {
    await queue.close();
    await Promise.all([processes.stop(receiver), processes.stop(worker)]);
  }
}

const medianOf = (costs: PairCost[]): PairCost => ({
  webhooks: median(costs.map((c) => c.webhooks)),
  receiverMicros: median(costs.map((c) => c.receiverMicros)),
  workerMicros: median(costs.map((c) => c.workerMicros)),
  redisMicros: median(costs.map((c) => c.redisMicros)),
  wholeMicros: median(costs.map((c) => c.wholeMicros)),
  redisCommands: median(costs.map((c) => c.redisCommands)),
});

/**
 * The whole system's cost per webhook, ours against a naive Express + BullMQ receiver and a
 * one-HSET worker, in BENCH_ROUNDS (at least 3) interleaved rounds: CPU of receiver + worker +
 * Redis, and Redis alone (what does not scale by replicas), with the ratio of each round.
 */
export const systemCost: Scenario<'systemCost', SystemCostResult> = {
  id: 'systemCost',
  title: 'whole-system and Redis CPU per webhook, ours and the naive pair',
  async run(ctx) {
    const rounds: SystemCostRound[] = [];
    const count = Math.max(3, ctx.options.rounds);
    for (let r = 0; r < count; r += 1) {
      // Interleaved, and each pair first in turn: drift of the machine falls on both.
      const order = r % 2 === 0 ? [PAIRS.naive, PAIRS.ours] : [PAIRS.ours, PAIRS.naive];
      const costs: Partial<Record<'ours' | 'naive', PairCost>> = {};
      for (const pair of order) {
        ctx.log(`system cost, round ${r + 1}/${count}: ${pair.id}`);
        costs[pair.id] = await measure(ctx, pair);
      }
      const ours = costs.ours as PairCost;
      const naive = costs.naive as PairCost;
      rounds.push({
        ours,
        naive,
        wholeRatio: ours.wholeMicros / naive.wholeMicros,
        redisRatio: ours.redisMicros / naive.redisMicros,
      });
    }
    return {
      rate: ctx.options.rate,
      seconds: SECONDS,
      rounds,
      wholeRatio: median(rounds.map((r) => r.wholeRatio)),
      redisRatio: median(rounds.map((r) => r.redisRatio)),
      ours: medianOf(rounds.map((r) => r.ours)),
      naive: medianOf(rounds.map((r) => r.naive)),
    };
  },
};
