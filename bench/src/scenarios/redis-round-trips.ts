import { once } from 'node:events';
import { receiverEnv } from '../apps.js';
import type { BenchContext } from '../context.js';
import { poolSize } from '../deliveries.js';
import { SCRIPTS } from '../paths.js';
import { sleep, waitHttp } from '../processes.js';
import { freePort } from '../testing.js';
import { type Contender, contender, type ReceiverId } from './contenders.js';
import type { Scenario } from './scenario.js';

export interface RoundTripResult {
  label: string;
  /** Network writes from the app to Redis per accepted webhook. */
  roundTripsPerAccepted: number;
  bytesPerAccepted: number;
  /** Accepted req/s with the proxy in the way (not comparable with the receivers table). */
  rpsThroughProxy: number;
}

const MEASURED = ['naiveReceiver', 'oursSigned'] as const satisfies readonly ReceiverId[];
export type RedisRoundTripsResult = Record<(typeof MEASURED)[number], RoundTripResult>;

/** What bench/baselines/redis-proxy.mjs prints when asked (a line on its stdin). */
interface ProxyCounts {
  writes: number;
  bytes: number;
}

async function measure(ctx: BenchContext, receiver: Contender): Promise<RoundTripResult> {
  const { redis, processes } = ctx;
  await redis.flush();
  const proxyPort = await freePort();
  const proxy = processes.start(
    SCRIPTS.redisProxy,
    { PORT: String(proxyPort), REDIS_PORT: String(redis.port) },
    { stdout: 'pipe' },
  );
  let child: ReturnType<typeof processes.start> | undefined;
  try {
    await sleep(200);
    const port = await freePort();
    child = processes.start(receiver.script, receiverEnv(ctx, port, { REDIS_URL: `redis://127.0.0.1:${proxyPort}` }));
    await waitHttp(`http://127.0.0.1:${port}/healthz`);
    ctx.log(`Redis round trips: ${receiver.label}`);
    await ctx.load(port, ctx.pool(poolSize(1), 'signed'), { seconds: 1 });
    const read = async (): Promise<ProxyCounts> => {
      const { stdin, stdout } = proxy;
      if (!stdin || !stdout) throw new Error('the Redis proxy has no stdin or stdout');
      stdin.write('\n');
      const [line] = (await once(stdout, 'data')) as [Buffer];
      return JSON.parse(line.toString()) as ProxyCounts;
    };
    const before = await read();
    const measured = await ctx.load(port, ctx.pool(poolSize(3), 'signed'), { seconds: 3 });
    const after = await read();
    const accepted = Math.max(measured.accepted, 1);
    return {
      label: receiver.label,
      roundTripsPerAccepted: (after.writes - before.writes) / accepted,
      bytesPerAccepted: (after.bytes - before.bytes) / accepted,
      rpsThroughProxy: measured.rps,
    };
  } finally {
    await processes.stop(child);
    await processes.stop(proxy);
  }
}

/**
 * Network round trips to Redis per accepted webhook, counted by a TCP proxy placed in front of
 * Redis for that run: each burst the client writes and then waits on is one round trip.
 */
export const redisRoundTrips: Scenario<'redisRoundTrips', RedisRoundTripsResult> = {
  id: 'redisRoundTrips',
  title: 'Redis round trips per accepted webhook (through a counting proxy)',
  async run(ctx) {
    const result: Partial<RedisRoundTripsResult> = {};
    for (const id of MEASURED) result[id] = await measure(ctx, contender(id));
    return result as RedisRoundTripsResult;
  },
};
