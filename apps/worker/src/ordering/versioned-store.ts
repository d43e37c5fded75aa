import { createHash } from 'node:crypto';
import type { RedisClient } from '@flexprice/runtime';

/**
 * Versioned marks in Redis: the one atomic step behind "the state we keep and forward never goes
 * backwards", shared by the customer store (which keeps each customer's state and an index) and the
 * entity marks of every forwarded family (which keep only versions).
 *
 * A record is a hash holding the newest applied `version`, the key of the delivery that applied it,
 * a deletion flag and the newest version the forward target acknowledged. One Lua script applies a
 * version only when it is newer, keeps deletions final, and, when a forward is wanted, takes the
 * record's forward lock, so forwards of one record go out one at a time and in version order. A
 * second job of one delivery id (a Svix resend after the receiver's dedupe window) takes the first
 * job's version: old content never passes for new because it arrived again.
 *
 * Two orderings, by what a version stands for:
 * - `state` (customers): the record holds a state; anything that does not supersede it is stale.
 *   A state read from Flexprice's API (version ending in `.api`) supersedes one from a webhook.
 * - `event` (forwarded families): an event is stale only when a newer one was acknowledged by the
 *   target (a newer one merely stored may yet fail for good), and only by its time: the version's
 *   first 22 characters, deletion flag and payload time. Two events of one time are both forwarded,
 *   one at a time. And versions are kept per clock (`versionClockOf`): an event stamped with its
 *   payload's time is never compared with one stamped with the time it was accepted.
 */

/**
 * - `applied`: this run stored the version (or, for an event, found it no older than the stored one).
 * - `current`: an earlier run of this job (or delivery) stored it, and it is still the newest.
 * - `unchanged`: another delivery stored this very version (an API state read twice).
 * - `skipped_stale`: a newer state is stored (or, for an event, was already forwarded).
 * - `skipped_tombstone`: the entity was deleted.
 */
export type ApplyOutcome = 'applied' | 'current' | 'unchanged' | 'skipped_stale' | 'skipped_tombstone';

/**
 * What may happen with the forward, for an applied or current version:
 * - `locked`: the forward lock is ours; forward, then `forwarded()` (or `releaseForward()`).
 * - `busy`: another forward of this record is in flight; try again shortly.
 * - `already`: this version (or, for states, a newer one) was forwarded and acknowledged.
 * - `none`: no forward was asked for.
 */
export type ForwardGate = 'locked' | 'busy' | 'already' | 'none';

export interface ApplyResult {
  outcome: ApplyOutcome;
  forward: ForwardGate;
  /** The version applied: the request's, or that of the delivery's first job. */
  version: string;
}

export type Ordering = 'state' | 'event' | 'announce';

/**
 * Where a version's time comes from: the payload's own time, when a receiver accepted it, or the
 * `updated_at` Flexprice's API answered. Versions of different clocks are never compared.
 */
export type VersionClock = 'payload' | 'receipt' | 'api';

const APPLY_SCRIPT = `
-- KEYS: record, forward lock, delivery pin [, live index]
-- ARGV: version, delivery key, now (ms), deletion ('0' live, '1' final, 'p' provisional), lock
--       token, lock ttl (ms), pin ttl (s), ordering, record ttl (s), id, clock (the suffix of this
--       clock's fields), then field/value pairs stored with the version
local record, lock, delivery, liveIndex = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local version, key, now, deletion, lockToken, lockTtl, pinTtl, ordering, recordTtl, id, clock =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local deleting = deletion ~= '0'
-- An announcement: ordered as a state, but forwarded once per delivery even when its state was.
local announce = ordering == 'announce'
if announce then ordering = 'state' end
local versionField, forwardedField, keyField = 'version' .. clock, 'forwarded_version' .. clock, 'last_key' .. clock

-- A delivery with an id: its first job's version stands for every later job of it.
-- (One command: SET … NX GET answers the pinned version, or sets this one.)
if pinTtl ~= '0' then
  local first = redis.call('SET', delivery, version, 'NX', 'GET', 'EX', pinTtl)
  if first then version = first end
end

local stored = redis.call('HMGET', record, versionField, 'deleted', 'index_key', forwardedField, 'updated_at_ms', keyField,
  'pending_version' .. clock, 'provisional')
local storedVersion, deleted, indexKey, forwarded = stored[1] or '', stored[2] == '1', stored[3], stored[4] or ''
-- A deletion that rests on a 404 alone: ordered like any state, so a later live state supersedes it.
local final = deleted and stored[8] ~= '1'
-- The newest version whose forward timed out: it may have reached the target (events only).
local pending = stored[7] or ''
-- A customer written before versions existed: its legacy updated_at (ms) still orders it.
if storedVersion == '' and stored[5] and stored[5] ~= '' then
  storedVersion = '0.' .. string.rep('0', 14 - #stored[5]) .. stored[5] .. '000000.' .. string.rep('0', 17) .. '.'
end

-- Whether version a supersedes b: an API-read state beats a webhook one, otherwise the later wins.
local function fromApi(v) return string.sub(v, -4) == '.api' end
local function supersedes(a, b)
  if fromApi(a) and not fromApi(b) then return true end
  return a > b
end
-- Whether a is older than b: for events, by payload time alone (deletion flag and 20 digits).
local function older(a, b)
  if ordering == 'event' then return string.sub(a, 1, 22) < string.sub(b, 1, 22) end
  return not supersedes(a, b)
end

-- A live API state of the very time of a provisional deletion (the entity was not gone: the 404s
-- lied) supersedes it: it takes the deletion's version with its trailing 'gone.api' made
-- 'revived.api', which sorts after it, here and at the forward target. A live state of an earlier
-- time is a read behind: stale, as any.
if deleted and not final and deletion == '0' and fromApi(version) and string.sub(storedVersion, -8) == 'gone.api'
  and string.sub(version, 1, 40) == string.sub(storedVersion, 1, 40) then
  version = string.sub(storedVersion, 1, -9) .. 'revived.api'
end

local outcome
if final and (deletion ~= '1' or version ~= storedVersion) then
  -- Nothing after a deletion but a retry of the deletion itself: no live event, whatever its
  -- clock (a retry of one stored before it too), and no second deletion.
  return {'skipped_tombstone', 'none', version}
elseif version == storedVersion then
  -- This delivery's own version (an earlier try stored it), or the same state from another one.
  outcome = stored[6] == key and 'current' or 'unchanged'
elseif ordering == 'state' and older(version, storedVersion) then
  return {'skipped_stale', 'none', version}
else
  outcome = 'applied'
  if supersedes(version, storedVersion) then
    -- The index follows the record: out of the old set (changed external id, or deletion), into
    -- the new one's. (Every set shares the prefix's hash tag.)
    if indexKey and (deleting or indexKey ~= liveIndex) then redis.call('SREM', indexKey, id) end
    -- One HSET for the version, the fields (what a record shows besides, the customer store's id,
    -- time and data: an order mark keeps only what orders it) and the index key. (An order mark's
    -- fields and a tombstone's stay under Lua's stack limit for unpack: a handful of pairs.)
    local values = {keyField, key, versionField, version}
    for i = 12, #ARGV do values[#values + 1] = ARGV[i] end
    if liveIndex and not deleting then
      values[#values + 1] = 'index_key'
      values[#values + 1] = liveIndex
    end
    redis.call('HSET', record, unpack(values))
    if deleting then
      -- A deletion keeps what ordering needs, nothing personal: the state's data and the external
      -- id (in the record and in the index key's name) go. The caller sends neither.
      redis.call('HDEL', record, 'customer', 'external_id', 'index_key')
      if not deleted then redis.call('HSET', record, 'deleted', '1', 'deleted_at', now) end
      if deletion == 'p' then redis.call('HSET', record, 'provisional', '1')
      else redis.call('HDEL', record, 'provisional') end
      if liveIndex then redis.call('SREM', liveIndex, id) end
    else
      -- A live state over a provisional deletion: the entity is back.
      if deleted then redis.call('HDEL', record, 'deleted', 'deleted_at', 'provisional') end
      if liveIndex then redis.call('SADD', liveIndex, id) end
    end
  end
end
-- A tombstone is kept for good: it is small, and a replay long after must not revive the entity.
-- Any other record lives recordTtl past its last event.
if deleting or final then redis.call('PERSIST', record)
elseif recordTtl ~= '0' then redis.call('EXPIRE', record, recordTtl) end

if lockToken == '' then return {outcome, 'none', version} end
if forwarded ~= '' and forwarded == version and not announce then return {outcome, 'already', version} end
if ordering == 'state' then
  -- A newer state was acknowledged (and is stored). (An announcement goes out with the state
  -- acknowledged last, once more.)
  if forwarded ~= '' and older(version, forwarded) and not (announce and version == forwarded) then
    return {outcome, 'already', version}
  end
else
  -- A newer event was acknowledged, or may have reached the target (its forward timed out): this
  -- one going out now could put the target back.
  local newest = forwarded
  if pending > newest then newest = pending end
  if newest ~= '' and newest ~= version and older(version, newest) then return {'skipped_stale', 'none', version} end
end
if redis.call('SET', lock, lockToken, 'NX', 'PX', lockTtl) then return {outcome, 'locked', version} end
-- Ours already: this very call, sent again by the client after a dropped connection.
if redis.call('GET', lock) == lockToken then return {outcome, 'locked', version} end
return {outcome, 'busy', version}
`;

// After the target's 2xx: remember the newest acknowledged version (of its clock), and let go of the
// lock. With ARGV[4] 'pending', the forward timed out instead: remember the version as one that may
// have reached the target, and keep the lock (it lapses by itself). ARGV[5]: the record's TTL.
const FORWARDED_SCRIPT = `
local field = (ARGV[4] == 'pending' and 'pending_version' or 'forwarded_version') .. ARGV[3]
local forwarded = redis.call('HGET', KEYS[1], field)
if not forwarded or forwarded < ARGV[1] then redis.call('HSET', KEYS[1], field, ARGV[1]) end
-- The record may have expired since it was applied: the fields just written must not outlive it.
if ARGV[5] ~= '0' and redis.call('HGET', KEYS[1], 'deleted') ~= '1' then redis.call('EXPIRE', KEYS[1], ARGV[5]) end
if ARGV[4] == 'pending' then return 1 end
if redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end
return 1
`;

const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

interface VersionedCommands {
  applyVersioned(numberOfKeys: number, ...keysAndArgs: string[]): Promise<[ApplyOutcome, ForwardGate, string]>;
  markForwarded(
    record: string,
    lock: string,
    version: string,
    token: string,
    clock: string,
    kind: 'acknowledged' | 'pending',
    recordTtlSeconds: string,
  ): Promise<number>;
  releaseForwardLock(lock: string, token: string): Promise<number>;
}

/** The suffix of a clock's fields in a record (`version_r`, …); none for the one clock of states. */
export const clockSuffix = (clock: MarkRequest['clock']) =>
  clock === undefined ? '' : ({ payload: '_p', receipt: '_r', api: '_a' } as const)[clock];

/**
 * One part of a key: no `:` (and nothing a SCAN pattern reads) survives encoding. Total: a string
 * `encodeURIComponent` cannot encode (a lone UTF-16 surrogate, which a job queued before the
 * receivers refused them may hold) is hashed from its UTF-16 units instead, so it never fails a job
 * and two such ids never share a key.
 */
export const keyPart = (value: string) =>
  LONE_SURROGATE.test(value)
    ? `~${createHash('sha256').update(value, 'utf16le').digest('hex')}`
    : encodeURIComponent(value).replace(/[*]/g, '%2A');

const LONE_SURROGATE = /\p{Surrogate}/u;

export interface MarkKeys {
  record: string;
  lock: string;
  delivery: string;
  /** The customer store's external-id set of the state's external id; absent for entity marks. */
  index?: { live: string };
}

export interface MarkRequest {
  version: string;
  idempotencyKey: string;
  deleting: boolean;
  /**
   * The deletion rests on a 404 alone (no deletion event, no deleted status): ordered like a state,
   * so a later live state supersedes it, where any other deletion is final.
   */
  provisional?: boolean | undefined;
  /**
   * The delivery had an id (Svix): a later job of the same key (a resend after the dedupe window)
   * takes the first job's version, for `pinTtlSeconds`. A native body is a fresh read of the
   * entity every time, so its own acceptance time stands.
   */
  pinTtlSeconds: number;
  /** Take the forward lock when the version may be forwarded (a forward target is configured). */
  lock?: { token: string; ttlMs: number } | undefined;
  ordering: Ordering;
  /**
   * The clock of the version (`versionClockOf`), for `event` ordering: versions of each clock are
   * kept and compared apart. Unset: the one clock of `state` ordering.
   */
  clock?: VersionClock | undefined;
  /** Expire the record this long after its last apply (a tombstone never); 0: never. */
  recordTtlSeconds: number;
  /** The record's id (what the index sets hold). */
  id: string;
  /** Stored with the version when it is applied. */
  fields: Record<string, string>;
  now: number;
}

/** The versioned apply, forwarded and release steps on one connection. */
export function versionedCommands(redis: RedisClient) {
  if (!('applyVersioned' in redis)) {
    redis.defineCommand('applyVersioned', { lua: APPLY_SCRIPT });
    redis.defineCommand('markForwarded', { numberOfKeys: 2, lua: FORWARDED_SCRIPT });
    redis.defineCommand('releaseForwardLock', { numberOfKeys: 1, lua: RELEASE_SCRIPT });
  }
  const commands = redis as unknown as VersionedCommands;
  return {
    async apply(keys: MarkKeys, request: MarkRequest): Promise<ApplyResult> {
      const keyList = [keys.record, keys.lock, keys.delivery, ...(keys.index ? [keys.index.live] : [])];
      const [outcome, forward, version] = await commands.applyVersioned(
        keyList.length,
        ...keyList,
        request.version,
        request.idempotencyKey,
        String(request.now),
        request.deleting ? (request.provisional ? 'p' : '1') : '0',
        request.lock?.token ?? '',
        String(request.lock?.ttlMs ?? 0),
        String(request.pinTtlSeconds),
        request.ordering,
        String(request.recordTtlSeconds),
        request.id,
        clockSuffix(request.clock),
        ...Object.entries(request.fields).flat(),
      );
      return { outcome, forward, version };
    },
    /** The target acknowledged `version`: remember it and release the lock taken by `apply`. */
    async forwarded(
      keys: MarkKeys,
      version: string,
      token: string,
      options: { clock?: MarkRequest['clock']; recordTtlSeconds?: number; pending?: boolean } = {},
    ): Promise<void> {
      await commands.markForwarded(
        keys.record,
        keys.lock,
        version,
        token,
        clockSuffix(options.clock),
        options.pending ? 'pending' : 'acknowledged',
        String(options.recordTtlSeconds ?? 0),
      );
    },
    /** The forward failed: release the lock (if it is still ours) for the next try or a newer version. */
    async release(keys: MarkKeys, token: string): Promise<void> {
      await commands.releaseForwardLock(keys.lock, token);
    },
  };
}

/** A record's versioned steps, bound to its keys: what the ordered forward works with. */
export interface Mark {
  apply(lock: { token: string; ttlMs: number } | undefined): Promise<ApplyResult>;
  forwarded(version: string, token: string): Promise<void>;
  release(token: string): Promise<void>;
  /**
   * The forward timed out or was cut: it may have reached the target. Keep the lock (it lapses by
   * itself) and, for events, let no older version out after it.
   */
  mayHaveForwarded(version: string): Promise<void>;
}
