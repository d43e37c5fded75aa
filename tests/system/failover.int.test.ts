// Redis failover with the built processes: a primary, two replicas and three sentinels (Debian's
// redis-server; the compose `ha` profile's shape), a receiver and two workers on the sentinels, a
// stream of signed webhooks, and the primary SIGKILLed mid-stream for good: it is never started
// again, as when its host is gone. The sentinels promote one replica and point the other at it,
// which then confirms writes. Just before the kill both replicas fall behind for a moment (stopped,
// their links cut, as a network partition would): on loopback they otherwise keep up within
// microseconds and a kill would rarely find anything unreplicated. With REDIS_WAIT_REPLICAS=1 every
// acknowledged webhook must be forwarded, and the receiver must answer 2xx again without the old
// primary; with 0 the loss is measured and printed, not asserted. FAILOVER_DELIVERIES sets the
// stream's size (CI: small; soak: more).
import { type ChildProcess, spawnSync } from 'node:child_process';
import { currentCustomer, customerEvent } from '@flexprice/contracts/fixtures';
import {
  type RedisAddress,
  type RedisSentinelSet,
  type SentinelSetNode,
  startForwardTarget,
  startRedisSentinelSet,
  uniquePrefix,
} from '@flexprice/testing';
import { Redis } from 'ioredis';
import { describe, expect, test } from 'vitest';
import {
  customerId,
  forwardsByCustomer,
  postWebhook,
  startReceiverProcess,
  startWorkerProcess,
  waitReady,
} from './system-support.js';

const DELIVERIES = Number(process.env.FAILOVER_DELIVERIES ?? 300);
const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? 'redis-server';
const hasRedisServer = !spawnSync(REDIS_SERVER, ['--version']).error;

// The replicas lag for 700 ms, well within this: the sentinels never hold them down, so one is promoted.
const SENTINEL_DOWN_AFTER_MS = 2_000;
/** The compose `ha` profile's: losing any one data node for good leaves a replica to confirm writes. */
const REPLICAS = 2;

const FAST_LOCKS = {
  WORKER_LOCK_DURATION_MS: '2000',
  WORKER_STALLED_INTERVAL_MS: '1000',
  WORKER_MAX_STALLED_COUNT: '100',
};

interface Sent {
  i: number;
  status: number;
  /** When the request was sent, then when its answer came. */
  sentAt: number;
  at: number;
}

interface FailoverRun {
  sent: Sent[];
  acknowledged: number[];
  forwarded: Set<string>;
  /** When the replicas fell behind (SIGSTOP), then when the primary was killed (for good). */
  laggingAt: number;
  killedAt: number;
  killed: RedisAddress;
  /** When every sentinel named the promoted replica, which answered as master. */
  promotedAt: number;
  /** When the first webhook sent after the kill was answered 202. */
  backAt: number;
  /** The data nodes' roles at the end (the killed one `down`). */
  roles: SentinelSetNode[];
  /** The first delivery sent once the receiver was ready again after the failover. */
  tailFrom: number;
  /** Whether the receiver and both workers still run the process they started with. */
  sameProcesses: boolean;
  /** The webhook-ids each forwarded customer came with. */
  idsByCustomer: Map<string, Set<string>>;
  /** What the apps said (but their /readyz lines) and the roles at the end: why, when something fails. */
  logs: string;
}

/**
 * One stream of `DELIVERIES` webhooks, the primary SIGKILLed for good when half were sent, the stream
 * going on through the promotion, then `DELIVERIES / 2` more once the receiver is ready again (the
 * old primary still dead); then waits until the forwards stop coming.
 */
async function streamThroughFailover(set: RedisSentinelSet, run: string, waitReplicas: number): Promise<FailoverRun> {
  const prefix = uniquePrefix(run);
  const env = {
    REDIS_SENTINELS: set.sentinelsEnv,
    REDIS_SENTINEL_NAME: set.name,
    QUEUE_PREFIX: prefix,
    STORE_PREFIX: `${prefix}-store`,
    REDIS_WAIT_REPLICAS: String(waitReplicas),
    ...(waitReplicas > 0 && { REDIS_WAIT_TIMEOUT_MS: '200' }),
  };
  const target = await startForwardTarget(() => ({ status: 200, delayMs: 1 }));
  const processes: { child: ChildProcess; output: () => string }[] = [];
  try {
    const receiver = await startReceiverProcess(env);
    processes.push(receiver);
    for (let k = 0; k < 2; k += 1) processes.push(await startWorkerProcess({ ...env, ...FAST_LOCKS }, target.url));
    await waitReady(receiver.port, 30_000, receiver);
    const sent: Sent[] = [];
    let next = 0;
    const batch = async () => {
      const range = Array.from({ length: 20 }, () => next++);
      const results = await Promise.all(
        range.map(async (i) => {
          const id = customerId(run, i);
          const event = customerEvent('customer.created', currentCustomer({ id, external_id: `ext-${id}` }));
          const sentAt = Date.now();
          try {
            return {
              i,
              status: (await postWebhook(receiver.port, event, 'signed', `msg_${id}`)).status,
              sentAt,
              at: Date.now(),
            };
          } catch {
            return { i, status: 0, sentAt, at: Date.now() };
          }
        }),
      );
      sent.push(...results);
      // A refused batch: back off a little, as a sender retrying would.
      if (results.some((r) => r.status !== 202)) await new Promise((resolve) => setTimeout(resolve, 100));
    };

    while (next < DELIVERIES / 2) await batch();
    // The replicas fall behind for 700 ms (under the sentinels' down-after: they stay candidates):
    // stopped, and their links cut on the primary's side, so that what the primary takes meanwhile
    // does not wait in a socket buffer for them either.
    const replicas = await set.replicas();
    if (replicas.length !== REPLICAS) throw new Error(`the set has ${replicas.length} replicas, not ${REPLICAS}`);
    const primary = await set.primary();
    const laggingAt = Date.now();
    for (const replica of replicas) set.pause(replica);
    const direct = new Redis({ host: primary.host, port: primary.port, lazyConnect: true });
    direct.on('error', () => {});
    try {
      await direct.connect();
      await direct.call('CLIENT', 'KILL', 'TYPE', 'replica');
    } finally {
      direct.disconnect();
    }
    while (Date.now() - laggingAt < 700) await batch();
    let killedAt = Number.POSITIVE_INFINITY;
    let promotedAt = 0;
    // Killed for good: nothing below starts it again. The clock starts once the process is gone.
    const failover = (async () => {
      await set.kill(primary);
      killedAt = Date.now();
      for (const replica of replicas) set.resume(replica);
      await set.waitForPromotion(primary);
      promotedAt = Date.now();
      return primary;
    })();
    let done = false;
    void failover.finally(() => {
      done = true;
    });
    // Webhooks keep coming while the sentinels promote a replica and point the other at it.
    while (!done || next < DELIVERIES) await batch();
    const killed = await failover;
    // On a loaded machine the sentinels may misjudge the new primary down and fail over once more:
    // the receiver is ready again once they settle.
    await waitReady(receiver.port, 90_000, receiver);
    const tailFrom = next;
    while (next < tailFrom + DELIVERIES / 2) await batch();

    const acknowledged = sent.filter((s) => s.status === 202).map((s) => s.i);
    // Until every acknowledged one is there, or nothing new arrived for 10 s (what is lost stays lost).
    let seen = -1;
    let quietSince = Date.now();
    for (;;) {
      const forwarded = forwardsByCustomer(target);
      const count = acknowledged.filter((i) => forwarded.has(customerId(run, i))).length;
      if (count === acknowledged.length) break;
      if (count !== seen) {
        seen = count;
        quietSince = Date.now();
      } else if (Date.now() - quietSince > 10_000) {
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const idsByCustomer = forwardsByCustomer(target);
    const roles = await set.nodes();
    const logs = [
      `roles at the end: ${JSON.stringify(roles)}; killed for good: ${killed.port}`,
      ...processes.map((proc, k) => {
        const said = proc
          .output()
          .split('\n')
          .filter((line) => !line.includes('"path":"/readyz"'));
        return `--- ${k === 0 ? 'receiver' : `worker ${k}`} ---\n${said.join('\n').slice(-3000)}`;
      }),
    ].join('\n');
    const back = sent.find((s) => s.status === 202 && s.sentAt >= killedAt);
    return {
      logs,
      sent,
      acknowledged,
      forwarded: new Set(idsByCustomer.keys()),
      tailFrom,
      laggingAt,
      killedAt,
      killed,
      promotedAt,
      backAt: back?.at ?? Number.NaN,
      roles,
      sameProcesses: processes.every((proc) => proc.child.exitCode === null && proc.child.signalCode === null),
      idsByCustomer,
    };
  } finally {
    for (const proc of processes) proc.child.kill('SIGKILL');
    await target.close();
  }
}

function summary(label: string, run: FailoverRun): string {
  const refused = run.sent.filter((s) => s.status !== 202);
  const lost = run.acknowledged.filter((i) => !run.forwarded.has(customerId(label, i)));
  return (
    `${label}: ${run.sent.length} sent, ${run.acknowledged.length} acknowledged, ${lost.length} acknowledged and lost; ` +
    `${refused.length} refused (${[...new Set(refused.map((s) => s.status))].join('/') || 'none'}); ` +
    `the replicas behind for ${run.killedAt - run.laggingAt} ms, then the primary killed for good: promotion ` +
    `${run.promotedAt - run.killedAt} ms after the kill, back to 202 after ${run.backAt - run.killedAt} ms`
  );
}

describe.skipIf(!hasRedisServer)('Redis failover (Sentinel)', () => {
  test('REDIS_WAIT_REPLICAS=1: the primary SIGKILLed mid-stream for good, 202s again without it, every acknowledged webhook forwarded', {
    timeout: 240_000,
  }, async () => {
    const set = await startRedisSentinelSet({
      appendfsync: 'everysec',
      downAfterMs: SENTINEL_DOWN_AFTER_MS,
      replicas: REPLICAS,
    });
    try {
      const run = await streamThroughFailover(set, 'fowait', 1);
      console.info(summary('fowait', run));
      const lost = run.acknowledged.filter((i) => !run.forwarded.has(customerId('fowait', i)));
      expect(lost, run.logs).toEqual([]);
      // Refusals only from the replicas falling behind until the other replica followed the promoted
      // one (the receiver then reports ready again); before and after, every webhook was acknowledged.
      const refused = run.sent.filter((s) => s.status !== 202);
      expect(refused.every((s) => s.status === 503)).toBe(true);
      expect(refused.every((s) => s.at >= run.laggingAt)).toBe(true);
      expect(run.sent.filter((s) => s.i >= run.tailFrom && s.status !== 202)).toEqual([]);
      // ... with the old primary still dead: a primary and the replica that confirmed those 202s.
      expect(run.roles.find((node) => node.port === run.killed.port)?.role).toBe('down');
      expect(run.roles.map((node) => node.role).sort()).toEqual(['down', 'master', 'replica']);
      expect(run.backAt).toBeGreaterThan(run.killedAt);
      // The lag was real: what the primary took meanwhile never reached a replica, and was refused.
      expect(refused.filter((s) => s.at < run.killedAt).length).toBeGreaterThan(0);
      expect(run.acknowledged.length).toBeGreaterThanOrEqual(DELIVERIES);
      // A repeated forward (a completion lost with the primary) carries its first webhook-id.
      expect([...run.idsByCustomer.values()].filter((ids) => ids.size !== 1)).toEqual([]);
      // Both apps followed the new primary by themselves.
      expect(run.sameProcesses).toBe(true);
    } finally {
      await set.dispose();
    }
  });

  test('REDIS_WAIT_REPLICAS=0: the same failover, the acknowledged webhooks lost measured', {
    timeout: 240_000,
  }, async () => {
    const set = await startRedisSentinelSet({
      appendfsync: 'everysec',
      downAfterMs: SENTINEL_DOWN_AFTER_MS,
      replicas: REPLICAS,
    });
    try {
      const run = await streamThroughFailover(set, 'fonowait', 0);
      console.info(summary('fonowait', run));
      // Not asserted: asynchronous replication may lose the last writes; RELIABILITY.md records
      // what runs measured. What must hold anyway: the apps followed the new primary.
      expect(run.sameProcesses).toBe(true);
      expect(run.sent.filter((s) => s.i >= run.tailFrom && s.status !== 202)).toEqual([]);
    } finally {
      await set.dispose();
    }
  });
});
