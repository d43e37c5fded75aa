import type { CustomerEvent } from '@flexprice/contracts';
import { type RedisClient, scanKeys } from '@flexprice/runtime';

/**
 * Customers as Flexprice last told us, in Redis, under one prefix (STORE_PREFIX, default `fpstore`):
 *
 *   <prefix>:customer:<flexprice id>                  hash: the record (see StoredCustomer)
 *   <prefix>:customer-ids:<env>:<external id>         set: the live customers with that external id
 *   <prefix>:customer-ids-deleted:<env>:<external id> set: the deleted ones (tombstones)
 *   <prefix>:forward-lock:<flexprice id>              string: held while a forward is in flight
 *   <prefix>:delivery:<idempotency key>               string: the version of the first job of a
 *                                                     delivery with an id, for PROCESSED_TTL_SECONDS
 *
 * (`<env>` and `<external id>` are URI-encoded, so neither holds a `:` and the key is unambiguous.)
 *
 * Every state carries a version (contracts' `versions.ts`); one Lua script applies an event only
 * when its version is newer than the stored one, and keeps tombstones: nothing after a deletion
 * revives a customer. The same script says whether this job's state may be forwarded now and, if
 * so, takes the customer's forward lock, so forwards go out one at a time and in version order.
 * A job run again (lost lock, retry, replay) finds its own version stored, or a newer one. A second
 * job of one delivery id (a Svix resend after the receiver's dedupe window) takes the first one's
 * version: old content never passes for new because it arrived again.
 */

/**
 * - `applied`: this run stored the state.
 * - `current`: an earlier run of this job (or delivery) stored it, and it is still the newest.
 * - `unchanged`: another delivery stored this very state (same version: an API state read twice).
 * - `skipped_stale`: a newer state is stored.
 * - `skipped_tombstone`: the customer was deleted.
 */
export type ApplyOutcome = 'applied' | 'current' | 'unchanged' | 'skipped_stale' | 'skipped_tombstone';

/**
 * What may happen with the forward, for an applied or current state:
 * - `locked`: the forward lock is ours; forward, then `forwarded()` (or `releaseForward()`).
 * - `busy`: another forward of this customer is in flight; try again shortly.
 * - `already`: this version (or a newer one) was forwarded and acknowledged.
 * - `none`: no forward was asked for.
 */
export type ForwardGate = 'locked' | 'busy' | 'already' | 'none';

export interface ApplyResult {
  outcome: ApplyOutcome;
  forward: ForwardGate;
  /** The version applied: the request's, or that of the delivery's first job. */
  version: string;
}

export interface StoredCustomer {
  id: string;
  environmentId: string;
  externalId: string;
  /** The customer object of the newest applied event, as Flexprice sent it. */
  customer: Record<string, unknown>;
  lastEventType: string;
  lastIdempotencyKey: string;
  /** The version of the stored state (empty for records written before versions existed). */
  version: string;
  /** The newest version the forward target acknowledged, if any. */
  forwardedVersion: string | null;
  appliedAt: string;
  deleted: boolean;
  deletedAt: string | null;
}

const APPLY_SCRIPT = `
local record, liveIndex, deletedIndex, lock, delivery = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, eventType, key, data, version, environmentId, externalId, now, deleting, lockToken, lockTtl, ttl =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9] == '1', ARGV[10], ARGV[11], ARGV[12]

-- A delivery with an id: its first job's version stands for every later job of it.
if ttl ~= '0' then
  local first = redis.call('GET', delivery)
  if first then version = first else redis.call('SET', delivery, version, 'EX', ttl) end
end

local stored = redis.call('HMGET', record, 'version', 'deleted', 'index_key', 'forwarded_version', 'updated_at_ms', 'last_key')
local storedVersion, deleted, indexKey, forwarded = stored[1] or '', stored[2] == '1', stored[3], stored[4] or ''
-- A record written before versions existed: its legacy updated_at (ms) still orders it.
if storedVersion == '' and stored[5] and stored[5] ~= '' then
  storedVersion = '0.' .. string.rep('0', 14 - #stored[5]) .. stored[5] .. '000000.' .. string.rep('0', 17) .. '.'
end

-- Whether state version a supersedes b. A state read from Flexprice's API (version ending in .api)
-- supersedes one from a webhook body, whatever their times: the API is the source of truth once a
-- key is configured. Otherwise the later version does.
local function fromApi(v) return string.sub(v, -4) == '.api' end
local function supersedes(a, b)
  if fromApi(a) and not fromApi(b) then return true end
  return a > b
end

local outcome
if version == storedVersion then
  -- This delivery's own state (an earlier try stored it), or the same state from another one.
  outcome = stored[6] == key and 'current' or 'unchanged'
elseif deleted then
  return {'skipped_tombstone', 'none', version}
elseif not supersedes(version, storedVersion) then
  return {'skipped_stale', 'none', version}
else
  outcome = 'applied'
  -- The index follows the record: out of the old external id's set (changed id, or deletion), into
  -- the new one's; a deleted customer is listed apart. (The old set shares the prefix's hash tag.)
  if indexKey and indexKey ~= liveIndex then redis.call('SREM', indexKey, id) end
  redis.call('HSET', record, 'id', id, 'environment_id', environmentId, 'external_id', externalId,
    'customer', data, 'last_event_type', eventType, 'last_key', key, 'version', version,
    'applied_at', now, 'index_key', liveIndex)
  if deleting then
    redis.call('HSET', record, 'deleted', '1', 'deleted_at', now)
    redis.call('SREM', liveIndex, id)
    redis.call('SADD', deletedIndex, id)
  else
    redis.call('SADD', liveIndex, id)
  end
end

if lockToken == '' then return {outcome, 'none', version} end
if forwarded ~= '' and not supersedes(version, forwarded) then return {outcome, 'already', version} end
if redis.call('SET', lock, lockToken, 'NX', 'PX', lockTtl) then return {outcome, 'locked', version} end
-- Ours already: this very call, sent again by the client after a dropped connection.
if redis.call('GET', lock) == lockToken then return {outcome, 'locked', version} end
return {outcome, 'busy', version}
`;

// After the target's 2xx: remember the newest acknowledged version, and let go of the lock.
const FORWARDED_SCRIPT = `
local forwarded = redis.call('HGET', KEYS[1], 'forwarded_version')
if not forwarded or forwarded < ARGV[1] then redis.call('HSET', KEYS[1], 'forwarded_version', ARGV[1]) end
if redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end
return 1
`;

const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

interface StoreCommands {
  applyCustomerState(
    record: string,
    liveIndex: string,
    deletedIndex: string,
    lock: string,
    delivery: string,
    ...args: string[]
  ): Promise<[ApplyOutcome, ForwardGate, string]>;
  customerForwarded(record: string, lock: string, version: string, token: string): Promise<number>;
  releaseCustomerLock(lock: string, token: string): Promise<number>;
}

export interface CustomerStoreOptions {
  prefix: string;
  /** How long a delivery's first version is remembered (PROCESSED_TTL_SECONDS). */
  processedTtlSeconds: number;
  now?: () => number;
}

export interface ApplyRequest {
  version: string;
  idempotencyKey: string;
  /**
   * The delivery had an id (Svix): a later job of the same key (a resend after the dedupe window)
   * takes the first job's version, for PROCESSED_TTL_SECONDS. A native body is a fresh read of the
   * entity every time, so its own acceptance time stands.
   */
  pinToDelivery: boolean;
  /** Take the forward lock when the state may be forwarded (a forward target is configured). */
  lock?: { token: string; ttlMs: number };
}

/** One part of a key: no `:` (and nothing a SCAN pattern reads) survives encoding. */
const part = (value: string) => encodeURIComponent(value).replace(/[*]/g, '%2A');

export function createCustomerStore(redis: RedisClient, options: CustomerStoreOptions) {
  const { prefix } = options;
  const now = options.now ?? Date.now;
  if (!('applyCustomerState' in redis)) {
    redis.defineCommand('applyCustomerState', { numberOfKeys: 5, lua: APPLY_SCRIPT });
    redis.defineCommand('customerForwarded', { numberOfKeys: 2, lua: FORWARDED_SCRIPT });
    redis.defineCommand('releaseCustomerLock', { numberOfKeys: 1, lua: RELEASE_SCRIPT });
  }
  const commands = redis as unknown as StoreCommands;

  const keys = {
    record: (id: string) => `${prefix}:customer:${id}`,
    index: (environmentId: string, externalId: string) =>
      `${prefix}:customer-ids:${part(environmentId)}:${part(externalId)}`,
    deletedIndex: (environmentId: string, externalId: string) =>
      `${prefix}:customer-ids-deleted:${part(environmentId)}:${part(externalId)}`,
    forwardLock: (id: string) => `${prefix}:forward-lock:${id}`,
    delivery: (idempotencyKey: string) => `${prefix}:delivery:${idempotencyKey}`,
    /** Written by versions before the set index (one id per key); still read by `findByExternalId`. */
    legacyIndex: (environmentId: string, externalId: string) =>
      `${prefix}:customer-index:${environmentId}:${externalId}`,
  };

  function toStored(hash: Record<string, string>): StoredCustomer | undefined {
    if (!hash.id) return undefined;
    return {
      id: hash.id,
      environmentId: hash.environment_id ?? '',
      externalId: hash.external_id ?? '',
      customer: JSON.parse(hash.customer ?? '{}') as Record<string, unknown>,
      lastEventType: hash.last_event_type ?? '',
      lastIdempotencyKey: hash.last_key ?? '',
      version: hash.version ?? '',
      forwardedVersion: hash.forwarded_version ?? null,
      appliedAt: new Date(Number(hash.applied_at)).toISOString(),
      deleted: hash.deleted === '1',
      deletedAt: hash.deleted_at ? new Date(Number(hash.deleted_at)).toISOString() : null,
    };
  }

  async function getMany(ids: Iterable<string>): Promise<StoredCustomer[]> {
    const found = await Promise.all(
      [...new Set(ids)].map(async (id) => toStored(await redis.hgetall(keys.record(id)))),
    );
    return found.filter((customer) => customer !== undefined);
  }

  return {
    keys,

    /**
     * Applies a customer's state if its version is newer than the stored one (a deletion always is,
     * unless the customer is already deleted); with `lock`, also says whether to forward it now.
     */
    async apply(event: CustomerEvent, request: ApplyRequest): Promise<ApplyResult> {
      const { customer } = event;
      const deleting = event.event_type === 'customer.deleted';
      const [outcome, forward, version] = await commands.applyCustomerState(
        keys.record(customer.id),
        keys.index(customer.environment_id, customer.external_id),
        keys.deletedIndex(customer.environment_id, customer.external_id),
        keys.forwardLock(customer.id),
        keys.delivery(request.idempotencyKey),
        customer.id,
        event.event_type,
        request.idempotencyKey,
        JSON.stringify(customer),
        request.version,
        customer.environment_id,
        customer.external_id,
        String(now()),
        deleting ? '1' : '0',
        request.lock?.token ?? '',
        String(request.lock?.ttlMs ?? 0),
        request.pinToDelivery ? String(options.processedTtlSeconds) : '0',
      );
      return { outcome, forward, version };
    },

    /** The target acknowledged `version`: remember it and release the lock taken by `apply`. */
    async forwarded(id: string, version: string, token: string): Promise<void> {
      await commands.customerForwarded(keys.record(id), keys.forwardLock(id), version, token);
    },

    /** The forward failed: release the lock (if it is still ours) for the next try or a newer state. */
    async releaseForward(id: string, token: string): Promise<void> {
      await commands.releaseCustomerLock(keys.forwardLock(id), token);
    },

    async get(id: string): Promise<StoredCustomer | undefined> {
      return toStored(await redis.hgetall(keys.record(id)));
    },

    /**
     * Customers with this external id: the live ones, or with `includeDeleted` the tombstones too;
     * in one environment, or (slower: a SCAN) in all of them. Newest state first.
     */
    async findByExternalId(
      externalId: string,
      options: { environmentId?: string | undefined; includeDeleted?: boolean } = {},
    ): Promise<StoredCustomer[]> {
      const { environmentId, includeDeleted = false } = options;
      const setKeys: string[] = [];
      const legacyKeys: string[] = [];
      if (environmentId !== undefined) {
        setKeys.push(keys.index(environmentId, externalId));
        if (includeDeleted) setKeys.push(keys.deletedIndex(environmentId, externalId));
        legacyKeys.push(keys.legacyIndex(environmentId, externalId));
      } else {
        const ext = part(externalId);
        setKeys.push(...(await scanKeys(redis, `${prefix}:customer-ids:*:${ext}`)));
        if (includeDeleted) setKeys.push(...(await scanKeys(redis, `${prefix}:customer-ids-deleted:*:${ext}`)));
        legacyKeys.push(...(await scanKeys(redis, keys.legacyIndex('*', externalId.replace(/[*?[\]\\]/g, '\\$&')))));
      }
      const ids = (await Promise.all(setKeys.map((key) => redis.smembers(key)))).flat();
      for (const key of legacyKeys) {
        if ((await redis.type(key)) === 'string') ids.push((await redis.get(key)) ?? '');
      }
      return (await getMany(ids))
        .filter(
          (customer) =>
            customer.externalId === externalId &&
            (environmentId === undefined || customer.environmentId === environmentId) &&
            (includeDeleted || !customer.deleted),
        )
        .sort((a, b) => (a.version < b.version ? 1 : a.version > b.version ? -1 : 0));
    },
  };
}

export type CustomerStore = ReturnType<typeof createCustomerStore>;
