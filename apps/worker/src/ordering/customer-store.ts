import { erasureVersion, shardTag, storeTagOf } from '@flexprice/contracts';
import { loadScript, type RedisClient, scanKeys, scriptCommand } from '@flexprice/runtime';
import { type ApplyResult, keyPart, type MarkKeys, versionedCommands } from './versioned-store.js';

export type { ApplyOutcome, ApplyResult, ForwardGate } from './versioned-store.js';

/**
 * Customers as Flexprice last told us, in Redis, under one prefix (STORE_PREFIX, default `fpstore`):
 *
 *   <prefix>:customer:<flexprice id>                  hash: the record (see StoredCustomer)
 *   <prefix>:customer-ids:<env>:<external id>         set: the live customers with that external id
 *   <prefix>:forward-lock:<flexprice id>              string: held while a forward is in flight
 *   <prefix>:delivery:<idempotency key>               string: the version of the first job of a
 *                                                     delivery with an id, for DELIVERY_PIN_TTL
 *
 * (`<env>` and `<external id>` are URI-encoded, so neither holds a `:` and the key is unambiguous.)
 *
 * A deleted customer's record is a tombstone that keeps what ordering needs and nothing personal:
 * its id, environment, version, deletion time and what the forward target acknowledged. Its data
 * and its external id (in the record and in the index) go with the deletion. Written by versions
 * before that, `<prefix>:customer-ids-deleted:<env>:<external id>` sets and tombstones with data
 * are stripped by `pnpm customers erase --tombstones`.
 *
 * Every state carries a version (contracts' `versions.ts`); one Lua script (`apply-version.lua`, run
 * by `versioned-store.ts`) applies an event only when its version is newer than the stored one, and
 * keeps tombstones: nothing after a deletion revives a customer. The same script says whether this
 * job's state may be forwarded now and, if so, takes the customer's forward lock, so forwards go
 * out one at a time and in version order.
 * A job run again (lost lock, retry, replay) finds its own version stored, or a newer one. A second
 * job of one delivery id (a Svix resend after the receiver's dedupe window) takes the first one's
 * version: old content never passes for new because it arrived again.
 */

export interface StoredCustomer {
  id: string;
  environmentId: string;
  externalId: string;
  /** The customer object of the newest applied event, as Flexprice sent it; `{}` once deleted. */
  customer: Record<string, unknown>;
  lastEventType: string;
  lastIdempotencyKey: string;
  /** The version of the stored state (empty for records written before versions existed). */
  version: string;
  /** The newest version the forward target acknowledged, if any. */
  forwardedVersion: string | null;
  appliedAt: string;
  deleted: boolean;
  /** The deletion rests on a 404 alone: a later live state from Flexprice's API supersedes it. */
  provisional: boolean;
  deletedAt: string | null;
}

export interface CustomerStoreOptions {
  prefix: string;
  /** How long a delivery's first version is remembered (DELIVERY_PIN_TTL). */
  deliveryPinTtlSeconds: number;
  /** QUEUE_SHARDS, and whether Redis is a cluster: where each customer's keys live (see `space`). */
  layout?: { shards: number; cluster: boolean };
  now?: () => number;
}

export interface ApplyRequest {
  version: string;
  idempotencyKey: string;
  /**
   * The delivery had an id (Svix): a later job of the same key (a resend after the dedupe window)
   * takes the first job's version, for DELIVERY_PIN_TTL. A native body is a fresh read of the
   * entity every time, so its own acceptance time stands.
   */
  pinToDelivery: boolean;
  /** Take the forward lock when the state may be forwarded (a forward target is configured). */
  lock?: { token: string; ttlMs: number };
  /** A `customer.deleted` that rests on a 404 alone (see `StoredCustomer.provisional`). */
  provisional?: boolean;
}

const part = keyPart;

/** A customer state to apply: the event type it goes out as, and the customer object (webhook's or API's). */
export interface CustomerStateInput {
  eventType: string;
  customer: Record<string, unknown> & { id: string };
}

const text = (value: unknown) => (typeof value === 'string' && value.length > 0 ? value : undefined);

/** Erasure: the script is `erase-customer.lua`, beside this file (KEYS, ARGV and answer in its header). */
export const eraseCustomerScript = loadScript(import.meta.url, 'erase-customer.lua');

export function createCustomerStore(redis: RedisClient, options: CustomerStoreOptions) {
  const { prefix } = options;
  const now = options.now ?? Date.now;
  const commands = versionedCommands(redis);
  const eraseCustomer = scriptCommand<number>(redis, eraseCustomerScript);
  const layout = options.layout ?? { shards: 1, cluster: false };
  const sharded = layout.cluster && layout.shards > 1;
  /**
   * Where a customer's keys live: under the prefix, and on a Redis Cluster with several shards in
   * its shard's hash tag (contracts' `storeTagOf`): its record, index entry, lock and delivery pins
   * share one slot (one script touches them), and the customers spread over the masters.
   */
  const space = (id: string) => {
    const tag = storeTagOf(id, layout.shards, layout.cluster);
    return tag === undefined ? prefix : `${prefix}:{${tag}}`;
  };
  /** Every space: each shard's on a sharded cluster, else the prefix alone. */
  const spaces = sharded
    ? Array.from({ length: layout.shards }, (_, shard) => `${prefix}:{${shardTag(shard, layout.shards)}}`)
    : [prefix];

  const keys = {
    // (Flexprice's ids, `cust_<ULID>`, are left as they are by `keyPart`.)
    record: (id: string) => `${space(id)}:customer:${part(id)}`,
    /** The live customers with an external id, of `owner`'s space (one set per space). */
    index: (environmentId: string, externalId: string, owner: string) =>
      `${space(owner)}:customer-ids:${part(environmentId)}:${part(externalId)}`,
    /** Written by versions that kept deleted customers' external ids; emptied by `erase --tombstones`. */
    deletedIndex: (environmentId: string, externalId: string) =>
      `${prefix}:customer-ids-deleted:${part(environmentId)}:${part(externalId)}`,
    forwardLock: (id: string) => `${space(id)}:forward-lock:${part(id)}`,
    /** A delivery's pinned version, in the space of the customer it is about. */
    delivery: (idempotencyKey: string, id: string) => `${space(id)}:delivery:${idempotencyKey}`,
    /** Written by versions before the set index (one id per key); still read by `findByExternalId`. */
    legacyIndex: (environmentId: string, externalId: string) =>
      `${prefix}:customer-index:${environmentId}:${externalId}`,
  };

  /** The record's keys; the index sets only where the customer's environment and external id are known. */
  function markKeys(id: string, environmentId?: string, externalId?: string, idempotencyKey = ''): MarkKeys {
    return {
      record: keys.record(id),
      lock: keys.forwardLock(id),
      delivery: keys.delivery(idempotencyKey, id),
      ...(environmentId !== undefined &&
        externalId !== undefined && {
          index: { live: keys.index(environmentId, externalId, id) },
        }),
    };
  }

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
      provisional: hash.provisional === '1',
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
    async apply(state: CustomerStateInput, request: ApplyRequest): Promise<ApplyResult> {
      const { customer } = state;
      const environmentId = text(customer.environment_id);
      const externalId = text(customer.external_id);
      const deleting = state.eventType === 'customer.deleted';
      const at = now();
      return commands.apply(markKeys(customer.id, environmentId, externalId, request.idempotencyKey), {
        version: request.version,
        idempotencyKey: request.idempotencyKey,
        deleting,
        provisional: deleting && request.provisional,
        pinTtlSeconds: request.pinToDelivery ? options.deliveryPinTtlSeconds : 0,
        lock: request.lock,
        ordering: 'state',
        recordTtlSeconds: 0,
        id: customer.id,
        // A tombstone keeps nothing personal (the script drops what a live state stored).
        fields: {
          id: customer.id,
          applied_at: String(at),
          environment_id: environmentId ?? '',
          last_event_type: state.eventType,
          ...(!deleting && { external_id: externalId ?? '', customer: JSON.stringify(customer) }),
        },
        now: at,
      });
    },

    /** The target acknowledged `version`: remember it and release the lock taken by `apply`. */
    async forwarded(id: string, version: string, token: string): Promise<void> {
      await commands.forwarded(markKeys(id), version, token);
    },

    /** The forward failed: release the lock (if it is still ours) for the next try or a newer state. */
    async releaseForward(id: string, token: string): Promise<void> {
      await commands.release(markKeys(id), token);
    },

    async get(id: string): Promise<StoredCustomer | undefined> {
      return toStored(await redis.hgetall(keys.record(id)));
    },

    /**
     * The live customers with this external id, in one environment or (slower: a SCAN) in all of
     * them, newest state first. (Tombstones keep no external id: `get` finds them by Flexprice id.)
     */
    async findByExternalId(
      externalId: string,
      options: { environmentId?: string | undefined } = {},
    ): Promise<StoredCustomer[]> {
      const { environmentId } = options;
      const setKeys: string[] = [];
      const legacyKeys: string[] = [];
      if (environmentId !== undefined) {
        for (const at of spaces) setKeys.push(`${at}:customer-ids:${part(environmentId)}:${part(externalId)}`);
        if (!sharded) legacyKeys.push(keys.legacyIndex(environmentId, externalId));
      } else {
        for (const at of spaces) setKeys.push(...(await scanKeys(redis, `${at}:customer-ids:*:${part(externalId)}`)));
        if (!sharded) {
          legacyKeys.push(...(await scanKeys(redis, keys.legacyIndex('*', externalId.replace(/[*?[\]\\]/g, '\\$&')))));
        }
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
            !customer.deleted,
        )
        .sort((a, b) => (a.version < b.version ? 1 : a.version > b.version ? -1 : 0));
    },

    /**
     * Erases a customer's personal data on request: its record becomes a final tombstone (id,
     * environment, version, what the target acknowledged), out of every index. Nothing revives it
     * afterwards, and nothing is forwarded. A customer the store never had gets a tombstone too, so
     * that a job still queued cannot store its data later. Returns whether a record existed.
     */
    async erase(id: string): Promise<boolean> {
      const [environmentId, externalId] = await redis.hmget(keys.record(id), 'environment_id', 'external_id');
      // (The older keys exist only where the store has one space: versions before shards.)
      const indexes =
        typeof environmentId === 'string' && typeof externalId === 'string' && !sharded
          ? [
              keys.index(environmentId, externalId, id),
              keys.deletedIndex(environmentId, externalId),
              keys.legacyIndex(environmentId, externalId),
            ]
          : [];
      const existed = await eraseCustomer([keys.record(id), ...indexes], [id, String(now()), erasureVersion(now())]);
      return existed === 1;
    },

    /**
     * Strips tombstones written by versions that kept a deleted customer's data and external id
     * (and their `customer-ids-deleted` sets). Returns how many records it stripped.
     */
    async stripTombstones(): Promise<number> {
      let stripped = 0;
      for (const key of (await Promise.all(spaces.map((at) => scanKeys(redis, `${at}:customer:*`)))).flat()) {
        const [id, deleted, data, externalId] = await redis.hmget(key, 'id', 'deleted', 'customer', 'external_id');
        if (typeof id !== 'string' || deleted !== '1' || (data === null && externalId === null)) continue;
        await this.erase(id);
        stripped += 1;
      }
      for (const key of await scanKeys(redis, `${prefix}:customer-ids-deleted:*`)) await redis.del(key);
      return stripped;
    },
  };
}

export type CustomerStore = ReturnType<typeof createCustomerStore>;
