import type { RedisClient } from '@flexprice/runtime';

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
 * KEYS: the queue's clock, then per delivery its entity's mark (the clock again when not native).
 * ARGV: the dedupe key prefix, the mark ttl (s), then per delivery: native ('1'/'0'), content hash,
 * the new job's id. Answers four values per delivery: stamp, verdict (new, duplicate, error), job id
 * (or the error), key. A failing mark (a key of the wrong type) fails its own delivery only.
 */
const ACCEPT_SCRIPT = `
local count = #KEYS - 1
local time = redis.call('TIME')
local base = tonumber(time[1]) * 1000000 + tonumber(time[2])
local high = redis.call('GET', KEYS[1])
if high and tonumber(high) >= base then base = tonumber(high) + 1 end
redis.call('SET', KEYS[1], string.format('%017.0f', base + count - 1))

local function failed(reply) return type(reply) == 'table' and reply.err end
local out = {}
for i = 1, count do
  local stamp = string.format('%017.0f', base + i - 1)
  local native, content, jobId = ARGV[3 * i], ARGV[3 * i + 1], ARGV[3 * i + 2]
  local verdict, id, key = 'new', jobId, ''
  if native == '1' then
    local markKey = KEYS[i + 1]
    local mark = redis.pcall('GET', markKey)
    if failed(mark) then
      verdict, id = 'error', mark.err
    else
      -- A chain starts from its acceptance time, so that it never repeats a key of an earlier one.
      local previous = 'start ' .. stamp
      if mark then
        local markedContent, markedJob, markedKey = string.match(mark, '^%S+ (%S+) (%S+) (%S+)$')
        if markedContent == content then
          -- The same bytes as the latest: a duplicate once its job exists; before that (its add is
          -- in flight, or failed) the same key, so that BullMQ's dedupe keeps the two to one job.
          if redis.call('EXISTS', ARGV[1] .. markedKey) == 1 then verdict, id = 'duplicate', markedJob end
          key = markedKey
        elseif markedKey then
          previous = markedKey
        end
      end
      if key == '' then
        key = 'nat-' .. redis.sha1hex(content .. '\\n' .. previous)
        redis.call('SET', markKey, stamp .. '.' .. jobId .. ' ' .. content .. ' ' .. jobId .. ' ' .. key, 'EX', ARGV[2])
      end
    end
  end
  out[#out + 1] = stamp
  out[#out + 1] = verdict
  out[#out + 1] = id
  out[#out + 1] = key
end
return out
`;

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

interface AcceptCommands {
  acceptDeliveries(keyCount: number, ...keysAndArgs: string[]): Promise<string[]>;
}

/** Batches `accept` calls per queue and event-loop turn into one script call each. */
export function createAcceptor(redis: RedisClient, options: { markTtlSeconds: number }) {
  if (!('acceptDeliveries' in redis)) redis.defineCommand('acceptDeliveries', { lua: ACCEPT_SCRIPT });
  const commands = redis as unknown as AcceptCommands;
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
      reply = await commands.acceptDeliveries(keys.length, ...keys, ...args);
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
