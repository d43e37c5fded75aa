import { VERSION_FORMAT } from '@flexprice/contracts';
import { loadScript, type RedisClient, scriptCommand } from '@flexprice/runtime';

/**
 * Accepting deliveries, atomically, on the queue's node (every key shares the queue prefix's hash
 * tag), in one script call for all the deliveries of one queue that arrive in the same turn of the
 * event loop: Redis runs TIME and the clock update once per call, not once per webhook. (The round
 * trip itself still costs the receiver about a tenth of its throughput in `pnpm bench`: the price of
 * one clock for every receiver.)
 *
 * 1. The acceptance time: Redis' TIME in µs (17 digits), never at or below the queue's clock (a
 *    high-water mark that moves forward only, so a clock stepped back by NTP, or a replica promoted
 *    with a slower clock, still stamps later deliveries later). One clock for every receiver; each
 *    delivery of a call gets a stamp of its own.
 * 2. Natively (no delivery id, an entity id): the entity's latest-delivery mark, one per entity
 *    whatever the event type (ordering is per entity: `updated X, created Y, updated X` is three
 *    states; the event type is part of the content hash). A delivery that repeats the latest one's
 *    bytes gets its key: a duplicate when that job exists (its BullMQ dedupe key is there), else
 *    (its add is in flight, or failed) a job under the same key, which BullMQ's dedupe keeps to one.
 *    Any other delivery gets a new key, the content hash chained to the latest one's key (a chain
 *    starts from its acceptance time, so no key repeats an earlier chain's), and the mark names it
 *    at once: a delivery accepted a moment later compares with this one.
 *
 * The script is `accept-deliveries.lua`, beside this file (its KEYS, ARGV and answer in its header).
 * A failing mark (a key of the wrong type) fails its own delivery only.
 */
export const acceptDeliveriesScript = loadScript(import.meta.url, 'accept-deliveries.lua', {
  ACCEPTED_AT_DIGITS: VERSION_FORMAT.ACCEPTED_AT_DIGITS,
});

export type Acceptance =
  /** `key` is the chained native key, or '' when the delivery's own key stands. */
  | { verdict: 'new'; acceptedAt: string; key: string }
  | { verdict: 'duplicate'; acceptedAt: string; jobId: string; key: string };

export interface AcceptRequest {
  /** `<prefix>:<queue name>`: the queue the job goes to (its BullMQ dedupe keys). */
  queueKey: string;
  /**
   * `<prefix>:<queue name>` whose clock stamps the delivery (`<key>:clock`): the job's queue unless
   * given. Every layout of QUEUE_SHARDS on one server shares its family's (see the enqueuer).
   */
  clockQueueKey?: string;
  /** Natively, the entity's latest-delivery mark key, and the delivery's content hash. */
  native?: { markKey: string; content: string };
  jobId: string;
}

interface Pending extends AcceptRequest {
  resolve: (acceptance: Acceptance) => void;
  reject: (error: Error) => void;
}

/** Batches `accept` calls per queue and event-loop turn into one script call each. */
export function createAcceptor(redis: RedisClient, options: { markTtlSeconds: number }) {
  const acceptDeliveries = scriptCommand<string[]>(redis, acceptDeliveriesScript);
  let batches = new Map<string, Pending[]>();
  let scheduled = false;

  /** One call for a batch: its deliveries share their queue and their clock (`accept`'s batch key). */
  async function send(batch: Pending[]): Promise<void> {
    const first = batch[0];
    if (first === undefined) return;
    const { queueKey } = first;
    const clockKey = `${first.clockQueueKey ?? queueKey}:clock`;
    const keys = [clockKey, ...batch.map((p) => p.native?.markKey ?? clockKey)];
    const args = [`${queueKey}:de:`, String(options.markTtlSeconds)];
    for (const p of batch) args.push(p.native ? '1' : '0', p.native?.content ?? '', p.jobId);
    let reply: string[];
    try {
      reply = await acceptDeliveries(keys, args);
    } catch (caught) {
      const error = caught instanceof Error ? caught : new Error(String(caught));
      for (const p of batch) p.reject(error);
      return;
    }
    batch.forEach((p, i) => {
      const [acceptedAt = '', verdict, id = '', key = ''] = reply.slice(4 * i, 4 * i + 4);
      if (verdict === 'duplicate') p.resolve({ verdict, acceptedAt, jobId: id, key });
      else if (verdict === 'new') p.resolve({ verdict, acceptedAt, key });
      else p.reject(Object.assign(new Error(id), { name: 'ReplyError' }));
    });
  }

  function flush(): void {
    scheduled = false;
    const due = batches;
    batches = new Map();
    for (const batch of due.values()) void send(batch);
  }

  return {
    accept(request: AcceptRequest): Promise<Acceptance> {
      return new Promise((resolve, reject) => {
        const batchKey = `${request.clockQueueKey ?? request.queueKey}\n${request.queueKey}`;
        const batch = batches.get(batchKey);
        if (batch) batch.push({ ...request, resolve, reject });
        else batches.set(batchKey, [{ ...request, resolve, reject }]);
        if (!scheduled) {
          scheduled = true;
          // After every request whose body completed in this turn has been read.
          setImmediate(flush);
        }
      });
    },
  };
}

export type Acceptor = ReturnType<typeof createAcceptor>;
