import { Redis } from 'ioredis';
import type { BenchContext } from '../context.js';
import { sleep } from '../processes.js';
import { spawnRedisServer } from '../testing.js';
import { contender } from './contenders.js';
import { measure, type ReceiverResult, type Sample, summarise } from './receivers.js';
import type { Scenario } from './scenario.js';

/** A row of the receivers table (`redisCommandsPerAccepted` included). */
export type ReplicaWaitRow = ReceiverResult;

export interface ReplicaWaitResult {
  /** Ours, Svix-signed, with a replica attached but not waited for (REDIS_WAIT_REPLICAS=0). */
  noWait: ReplicaWaitRow;
  /** The same with REDIS_WAIT_REPLICAS=1: every 202 after a WAIT the replica confirmed. */
  waitOne: ReplicaWaitRow;
}

const VARIANTS = [
  { id: 'noWait', label: 'ours, signed, one replica, REDIS_WAIT_REPLICAS=0', env: { REDIS_WAIT_REPLICAS: '0' } },
  { id: 'waitOne', label: 'ours, signed, one replica, REDIS_WAIT_REPLICAS=1', env: { REDIS_WAIT_REPLICAS: '1' } },
] as const;

async function waitForSync(replicaUrl: string, ctx: BenchContext): Promise<void> {
  const replica = new Redis(replicaUrl);
  replica.on('error', () => {});
  try {
    for (let tries = 0; tries < 200; tries += 1) {
      if ((await replica.info('replication')).includes('master_link_status:up')) return;
      await sleep(50);
    }
    throw new Error('the bench replica did not sync with the bench Redis within 10 s');
  } finally {
    replica.disconnect();
    ctx.log('replica in sync');
  }
}

/**
 * The cost of replica-confirmed acknowledgements: the bench Redis gets a replica (redis-server
 * `--replicaof`, on the same machine), and our receiver runs with REDIS_WAIT_REPLICAS 0 and 1,
 * interleaved rounds, the medians (goal: 1 at ≥ 0.8× the throughput of 0).
 */
export const replicaWait: Scenario<'replicaWait', ReplicaWaitResult> = {
  id: 'replicaWait',
  title: 'throughput with and without replica-confirmed 202s (WAIT)',
  async run(ctx) {
    const replica = await spawnRedisServer(process.env.REDIS_SERVER_BIN ?? 'redis-server', {
      appendfsync: ctx.options.appendfsync,
      extraArgs: ['--replicaof', '127.0.0.1', String(ctx.redis.port), '--repl-diskless-sync-delay', '0'],
    });
    try {
      await waitForSync(replica.url, ctx);
      const samples = new Map<string, Sample[]>(VARIANTS.map((v) => [v.id, []]));
      const ours = contender('oursSigned');
      for (let round = 0; round < ctx.options.rounds; round += 1) {
        const order = round % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
        for (const variant of order) {
          ctx.log(`replica wait, round ${round + 1}/${ctx.options.rounds}: ${variant.label}`);
          samples.get(variant.id)?.push(await measure(ctx, ours, variant.env));
        }
      }
      const row = (variant: (typeof VARIANTS)[number]) => summarise(variant.label, samples.get(variant.id) ?? []);
      const [noWait, waitOne] = VARIANTS;
      return { noWait: row(noWait), waitOne: row(waitOne) };
    } finally {
      await replica.dispose();
    }
  },
};
