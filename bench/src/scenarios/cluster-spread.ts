import { familyQueueNames } from '@flexprice/contracts';
import { Cluster, Redis } from 'ioredis';
import { receiverEnv, workerEnv } from '../apps.js';
import type { BenchContext } from '../context.js';
import { SCRIPTS } from '../paths.js';
import { cpuMicros, median, pidOf, sleep, waitHttp } from '../processes.js';
import { canStartRedisCluster, freePort, startRedisCluster, type TestRedisCluster } from '../testing.js';
import type { Scenario } from './scenario.js';

/** One master's part of a layout's work. */
export interface MasterShare {
  /** Share of the commands the three masters processed (bookkeeping left out). */
  commandShare: number;
  /** Its CPU (user + system) per accepted webhook, µs. */
  cpuMicros: number;
}

/** One QUEUE_SHARDS value on the 3-master cluster, medians over the rounds. */
export interface LayoutCost {
  shards: number;
  webhooks: number;
  /** Redis commands per webhook, all masters. */
  redisCommands: number;
  /** Redis CPU per webhook, all masters (µs). */
  redisMicros: number;
  /** The busiest master's CPU per webhook (µs): what bounds the cluster's throughput. */
  busiestMasterMicros: number;
  /** Receiver + worker CPU per webhook (µs). */
  appMicros: number;
  /** Per master, busiest first. */
  masters: MasterShare[];
}

export interface ClusterSpreadResult {
  rate: number;
  seconds: number;
  rounds: number;
  layouts: LayoutCost[];
  /** The busiest master's CPU per webhook, sharded / one queue per family (below 1: more capacity). */
  busiestRatio: number;
}

/** The sharded layout compared with one queue per family: a multiple of the three masters. */
const SHARDED = 6;
const SECONDS = 10;
const BOOKKEEPING = new Set(['info', 'flushall', 'ping', 'client', 'config', 'cluster', 'command', 'readonly']);

interface MasterSample {
  commands: number;
  cpuMicros: number;
}

async function sample(node: Redis): Promise<MasterSample> {
  const [stats, cpu] = await Promise.all([node.info('commandstats'), node.info('cpu')]);
  let commands = 0;
  for (const [, command = '', calls] of stats.matchAll(/cmdstat_(\w+):calls=(\d+)/g)) {
    if (!BOOKKEEPING.has(command)) commands += Number(calls);
  }
  const seconds = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(cpu)?.[1] ?? 0);
  return { commands, cpuMicros: (seconds('used_cpu_user') + seconds('used_cpu_sys')) * 1e6 };
}

/** The queues of the layout drained: nothing waiting, active or delayed in any shard. */
async function drained(cluster: Cluster, prefix: string, shards: number): Promise<boolean> {
  for (const name of familyQueueNames('customer', shards)) {
    const base = `${prefix}:${name}`;
    const [wait, active, delayed, prioritized] = await Promise.all([
      cluster.llen(`${base}:wait`),
      cluster.llen(`${base}:active`),
      cluster.zcard(`${base}:delayed`),
      cluster.zcard(`${base}:prioritized`),
    ]);
    if (wait + active + delayed + prioritized > 0) return false;
  }
  return true;
}

async function measure(ctx: BenchContext, cluster: TestRedisCluster, shards: number): Promise<LayoutCost> {
  const nodes = cluster.nodes.map(({ host, port }) => new Redis({ host, port }));
  const client = new Cluster(cluster.nodes);
  const prefix = shards > 1 ? 'flexprice' : '{flexprice}';
  const clusterEnv = { REDIS_CLUSTER_NODES: cluster.nodeList, QUEUE_SHARDS: String(shards) };
  const port = await freePort();
  // The apps' production retention (completed jobs removed at once), as systemCost runs them; the
  // cluster instead of the bench's Redis.
  const { JOB_KEEP_COMPLETED: _kept, REDIS_URL: _url, ...env } = receiverEnv(ctx, port, clusterEnv);
  const metricsPort = await freePort();
  const { REDIS_URL: _same, ...consumerEnv } = workerEnv(ctx, metricsPort, clusterEnv);
  await Promise.all(nodes.map((node) => node.flushall()));
  const receiver = ctx.processes.start(SCRIPTS.receiver, env);
  const worker = ctx.processes.start(SCRIPTS.worker, consumerEnv);
  try {
    await waitHttp(`http://127.0.0.1:${port}/healthz`);
    await waitHttp(`http://127.0.0.1:${metricsPort}/readyz`);
    await sleep(1_000);
    const apps = () => cpuMicros(pidOf(receiver)) + cpuMicros(pidOf(worker));
    const before = { apps: apps(), masters: await Promise.all(nodes.map(sample)) };
    const pool = ctx.pool(Math.ceil(ctx.options.rate * (SECONDS + 2)), 'signed');
    const measured = await ctx.load(port, pool, { seconds: SECONDS, overallRate: ctx.options.rate });
    const deadline = Date.now() + 60_000;
    while (!(await drained(client, prefix, shards))) {
      if (Date.now() > deadline) throw new Error(`QUEUE_SHARDS=${shards}: the queues did not drain within 60 s`);
      await sleep(100);
    }
    const after = { apps: apps(), masters: await Promise.all(nodes.map(sample)) };
    const n = measured.accepted;
    const done = after.masters.map((m, i) => ({
      commands: m.commands - (before.masters[i]?.commands ?? 0),
      cpuMicros: m.cpuMicros - (before.masters[i]?.cpuMicros ?? 0),
    }));
    const commands = done.reduce((sum, m) => sum + m.commands, 0);
    const masters = done
      .map((m) => ({ commandShare: m.commands / commands, cpuMicros: m.cpuMicros / n }))
      .sort((a, b) => b.cpuMicros - a.cpuMicros);
    return {
      shards,
      webhooks: n,
      redisCommands: commands / n,
      redisMicros: masters.reduce((sum, m) => sum + m.cpuMicros, 0),
      busiestMasterMicros: masters[0]?.cpuMicros ?? Number.NaN,
      appMicros: (after.apps - before.apps) / n,
      masters,
    };
  } finally {
    await Promise.all([ctx.processes.stop(receiver), ctx.processes.stop(worker)]);
    client.disconnect();
    for (const node of nodes) node.disconnect();
  }
}

const medianOf = (costs: LayoutCost[]): LayoutCost => {
  const at = (i: number) => ({
    commandShare: median(costs.map((c) => c.masters[i]?.commandShare ?? Number.NaN)),
    cpuMicros: median(costs.map((c) => c.masters[i]?.cpuMicros ?? Number.NaN)),
  });
  return {
    shards: costs[0]?.shards ?? 0,
    webhooks: median(costs.map((c) => c.webhooks)),
    redisCommands: median(costs.map((c) => c.redisCommands)),
    redisMicros: median(costs.map((c) => c.redisMicros)),
    busiestMasterMicros: median(costs.map((c) => c.busiestMasterMicros)),
    appMicros: median(costs.map((c) => c.appMicros)),
    masters: [0, 1, 2].map(at),
  };
};

/**
 * A 3-master Redis Cluster (local redis-servers, no replicas) under BENCH_RATE Svix-signed
 * customer.created deliveries for 10 s, drained as they come, with one queue per family and with
 * QUEUE_SHARDS=6, in BENCH_ROUNDS interleaved rounds: how the commands and the CPU spread over the
 * masters, and the busiest master's CPU per webhook (what bounds a cluster's capacity).
 */
export const clusterSpread: Scenario<'clusterSpread', ClusterSpreadResult> = {
  id: 'clusterSpread',
  title: 'a 3-master Redis Cluster: one queue per family against QUEUE_SHARDS=6',
  async run(ctx) {
    if (!(await canStartRedisCluster())) throw new Error('clusterSpread needs redis-server and redis-cli on PATH');
    const cluster = await startRedisCluster();
    try {
      const costs = new Map<number, LayoutCost[]>([
        [1, []],
        [SHARDED, []],
      ]);
      for (let r = 0; r < ctx.options.rounds; r += 1) {
        for (const shards of r % 2 === 0 ? [1, SHARDED] : [SHARDED, 1]) {
          ctx.log(`cluster spread, round ${r + 1}/${ctx.options.rounds}: QUEUE_SHARDS=${shards}`);
          costs.get(shards)?.push(await measure(ctx, cluster, shards));
        }
      }
      const layouts = [...costs.values()].map(medianOf);
      const [one, sharded] = layouts;
      return {
        rate: ctx.options.rate,
        seconds: SECONDS,
        rounds: ctx.options.rounds,
        layouts,
        busiestRatio: (sharded?.busiestMasterMicros ?? Number.NaN) / (one?.busiestMasterMicros ?? Number.NaN),
      };
    } finally {
      await cluster.dispose();
    }
  },
};
