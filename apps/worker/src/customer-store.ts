import type { CustomerEvent } from '@flexprice/contracts';
import { type RedisClient, scanKeys } from '@flexprice/runtime';
import { type ApplyResult, keyPart, type MarkKeys, versionedCommands } from './versioned-store.js';

export type { ApplyOutcome, ApplyResult, ForwardGate } from './versioned-store.js';

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

const part = keyPart;

export function createCustomerStore(redis: RedisClient, options: CustomerStoreOptions) {
  const { prefix } = options;
  const now = options.now ?? Date.now;
  const commands = versionedCommands(redis);

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

  /** The record's keys; the index sets only where the customer's environment and external id are known. */
  function markKeys(id: string, environmentId?: string, externalId?: string, idempotencyKey = ''): MarkKeys {
    return {
      record: keys.record(id),
      lock: keys.forwardLock(id),
      delivery: keys.delivery(idempotencyKey),
      ...(environmentId !== undefined &&
        externalId !== undefined && {
          index: { live: keys.index(environmentId, externalId), deleted: keys.deletedIndex(environmentId, externalId) },
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
      return commands.apply(
        markKeys(customer.id, customer.environment_id, customer.external_id, request.idempotencyKey),
        {
          version: request.version,
          idempotencyKey: request.idempotencyKey,
          deleting: event.event_type === 'customer.deleted',
          pinTtlSeconds: request.pinToDelivery ? options.processedTtlSeconds : 0,
          lock: request.lock,
          ordering: 'state',
          recordTtlSeconds: 0,
          id: customer.id,
          fields: {
            environment_id: customer.environment_id,
            external_id: customer.external_id,
            customer: JSON.stringify(customer),
            last_event_type: event.event_type,
          },
          now: now(),
        },
      );
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
