import { type CustomerEvent, isLegacyCustomer } from '@flexprice/contracts';
import { type RedisClient, scanKeys } from '@flexprice/runtime';

/**
 * Customers as Flexprice last told us, in Redis, under one prefix (STORE_PREFIX, default `fpstore`):
 *
 *   <prefix>:customer:<flexprice id>                        hash: the record (see StoredCustomer)
 *   <prefix>:customer-index:<environment_id>:<external_id>  string: the flexprice id
 *   <prefix>:processed:<idempotency key>                    string: the outcome, for PROCESSED_TTL_SECONDS
 *   <prefix>:forwarded:<idempotency key>                    string: "1" once the forward got a 2xx
 *
 * One Lua script applies an event: it reads the tombstone and the stored `updated_at`, writes the
 * record and the index, and sets the processed mark, atomically. A job that runs twice (lost lock,
 * replay) finds its mark and applies nothing.
 */

export type ApplyOutcome = 'applied' | 'skipped_tombstone' | 'skipped_stale';

export interface ApplyResult {
  outcome: ApplyOutcome;
  /** False when this idempotency key had already been processed: the outcome is the first run's. */
  firstRun: boolean;
}

export interface StoredCustomer {
  id: string;
  environmentId: string;
  externalId: string;
  /** The customer object of the last applied event, as Flexprice sent it. */
  customer: Record<string, unknown>;
  lastEventType: string;
  lastIdempotencyKey: string;
  /** Legacy (≤ v2.1.23) payloads only: the newest `updated_at` applied, as epoch milliseconds. */
  updatedAtMs: number | null;
  appliedAt: string;
  deleted: boolean;
  deletedAt: string | null;
}

const APPLY_SCRIPT = `
local record, processed, index = KEYS[1], KEYS[2], KEYS[3]
local eventType, key, data, updatedAtMs, environmentId, externalId, now, ttl =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]

local previous = redis.call('GET', processed)
if previous then return {previous, 0} end

local outcome = 'applied'
if redis.call('HGET', record, 'deleted') == '1' then
  outcome = 'skipped_tombstone'
elseif eventType ~= 'customer.deleted' and updatedAtMs ~= '' then
  local stored = redis.call('HGET', record, 'updated_at_ms')
  if stored and stored ~= '' and tonumber(updatedAtMs) < tonumber(stored) then
    outcome = 'skipped_stale'
  end
end

if outcome == 'applied' then
  -- An external id or environment that changed leaves no stale index entry behind. (Same hash tag
  -- as the declared keys, so the same cluster slot.)
  local previousEnv = redis.call('HGET', record, 'environment_id')
  local previousExt = redis.call('HGET', record, 'external_id')
  if previousEnv and previousExt and (previousEnv ~= environmentId or previousExt ~= externalId) then
    local previousIndex = ARGV[10] .. previousEnv .. ':' .. previousExt
    if redis.call('GET', previousIndex) == ARGV[9] then redis.call('DEL', previousIndex) end
  end
  redis.call('HSET', record,
    'id', ARGV[9], 'environment_id', environmentId, 'external_id', externalId, 'customer', data,
    'last_event_type', eventType, 'last_key', key, 'applied_at', now)
  if updatedAtMs ~= '' then redis.call('HSET', record, 'updated_at_ms', updatedAtMs) end
  if eventType == 'customer.deleted' then
    redis.call('HSET', record, 'deleted', '1', 'deleted_at', now)
  else
    redis.call('SET', index, ARGV[9])
  end
end

redis.call('SET', processed, outcome, 'EX', ttl)
return {outcome, 1}
`;

interface StoreCommands {
  applyCustomerEvent(
    record: string,
    processed: string,
    index: string,
    ...args: string[]
  ): Promise<[ApplyOutcome, number]>;
}

export interface CustomerStoreOptions {
  prefix: string;
  processedTtlSeconds: number;
  now?: () => number;
}

export function createCustomerStore(redis: RedisClient, options: CustomerStoreOptions) {
  const { prefix, processedTtlSeconds } = options;
  const now = options.now ?? Date.now;
  if (!('applyCustomerEvent' in redis)) {
    redis.defineCommand('applyCustomerEvent', { numberOfKeys: 3, lua: APPLY_SCRIPT });
  }
  const commands = redis as unknown as StoreCommands;

  const keys = {
    record: (id: string) => `${prefix}:customer:${id}`,
    index: (environmentId: string, externalId: string) => `${prefix}:customer-index:${environmentId}:${externalId}`,
    processed: (key: string) => `${prefix}:processed:${key}`,
    forwarded: (key: string) => `${prefix}:forwarded:${key}`,
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
      updatedAtMs: hash.updated_at_ms ? Number(hash.updated_at_ms) : null,
      appliedAt: new Date(Number(hash.applied_at)).toISOString(),
      deleted: hash.deleted === '1',
      deletedAt: hash.deleted_at ? new Date(Number(hash.deleted_at)).toISOString() : null,
    };
  }

  return {
    keys,

    /** Applies one customer event, once per idempotency key, in any order of arrival. */
    async apply(event: CustomerEvent, idempotencyKey: string): Promise<ApplyResult> {
      const { customer } = event;
      const updatedAtMs = isLegacyCustomer(customer) ? String(Date.parse(customer.updated_at)) : '';
      const [outcome, firstRun] = await commands.applyCustomerEvent(
        keys.record(customer.id),
        keys.processed(idempotencyKey),
        keys.index(customer.environment_id, customer.external_id),
        event.event_type,
        idempotencyKey,
        JSON.stringify(customer),
        updatedAtMs,
        customer.environment_id,
        customer.external_id,
        String(now()),
        String(processedTtlSeconds),
        customer.id,
        `${prefix}:customer-index:`,
      );
      return { outcome, firstRun: firstRun === 1 };
    },

    async wasForwarded(idempotencyKey: string): Promise<boolean> {
      return (await redis.exists(keys.forwarded(idempotencyKey))) === 1;
    },

    async markForwarded(idempotencyKey: string): Promise<void> {
      await redis.set(keys.forwarded(idempotencyKey), '1', 'EX', processedTtlSeconds);
    },

    async get(id: string): Promise<StoredCustomer | undefined> {
      return toStored(await redis.hgetall(keys.record(id)));
    },

    /** By external id, in one environment or (slower: a SCAN) in all of them. */
    async findByExternalId(externalId: string, environmentId?: string): Promise<StoredCustomer[]> {
      const indexKeys: string[] = [];
      if (environmentId !== undefined) {
        indexKeys.push(keys.index(environmentId, externalId));
      } else {
        indexKeys.push(...(await scanKeys(redis, keys.index('*', externalId.replace(/[*?[\]\\]/g, '\\$&')))));
      }
      const found: StoredCustomer[] = [];
      for (const indexKey of indexKeys) {
        const id = await redis.get(indexKey);
        const stored = id ? await this.get(id) : undefined;
        if (stored && stored.externalId === externalId) found.push(stored);
      }
      return found;
    },
  };
}

export type CustomerStore = ReturnType<typeof createCustomerStore>;
