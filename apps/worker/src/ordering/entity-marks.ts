import { createHash } from 'node:crypto';
import { type Family, storeTagOf } from '@flexprice/contracts';
import type { RedisClient } from '@flexprice/runtime';
import { clockSuffix, keyPart, type Mark, type VersionClock, versionedCommands } from './versioned-store.js';

/**
 * The order of what each forward target got, per entity, for the families forwarded by route
 * (invoices, subscriptions, wallets, …), under the store prefix:
 *
 *   <prefix>:entity:<family>:<target>:<entity id>       hash: newest version seen, newest acknowledged
 *   <prefix>:entity-lock:<family>:<target>:<entity id>  string: held while a forward is in flight
 *
 * Versions of each clock (payload time, acceptance time) are kept apart in the record and never
 * compared with each other (contracts' `versionClockOf`). `<target>` is a short hash of the route's URL: each target gets its own ordered stream (two
 * routes for one family's events never hold each other up, nor skip each other's events), and a
 * new URL starts with a clean slate. Only versions are kept, never payloads, and a record expires
 * ENTITY_MARK_TTL_SECONDS after its last event (a replay older than that is forwarded unchecked),
 * except a tombstone, which is kept.
 */
export interface EntityMarkOptions {
  prefix: string;
  /** How long a delivery's first version is remembered (DELIVERY_PIN_TTL). */
  deliveryPinTtlSeconds: number;
  /** How long a record lives after its last event (ENTITY_MARK_TTL_SECONDS). */
  markTtlSeconds: number;
  /** QUEUE_SHARDS, and whether Redis is a cluster: where an entity's keys live. */
  layout?: { shards: number; cluster: boolean };
  now?: () => number;
}

export interface EntityMarkRequest {
  family: Family;
  /** The route's key: `targetKey(url)`, worked out once per route, not per job. */
  target: string;
  entityId: string;
  eventType: string;
  version: string;
  idempotencyKey: string;
  deleting: boolean;
  /** A deletion that rests on a 404 alone: a later live state supersedes it. */
  provisional?: boolean;
  /** An announcement (api clock): forwarded once per delivery even when its state was forwarded. */
  announce?: boolean;
  /**
   * Where the version's time comes from: contracts' `versionClockOf` for a webhook body (ordered as
   * events), `api` for a state Flexprice's API answered (ordered as states: only a newer one is
   * applied, and a state already acknowledged is not forwarded again).
   */
  clock: VersionClock;
  /**
   * The delivery had an id (Svix): pin its first job's version (`versioned-store.ts`). Only an
   * acceptance-time version needs it: a payload time is the same in every copy of a delivery.
   */
  pinToDelivery: boolean;
}

/** A route URL's short hash; spellings of one URL (host case, default port) share it. */
export const targetKey = (url: string) => createHash('sha256').update(new URL(url).href).digest('hex').slice(0, 12);

export function createEntityMarks(redis: RedisClient, options: EntityMarkOptions) {
  const { prefix } = options;
  const now = options.now ?? Date.now;
  const commands = versionedCommands(redis);

  const layout = options.layout ?? { shards: 1, cluster: false };
  /** An entity's keys' space: its shard's hash tag on a sharded cluster (see the customer store's). */
  const space = (entityId: string) => {
    const tag = storeTagOf(entityId, layout.shards, layout.cluster);
    return tag === undefined ? prefix : `${prefix}:{${tag}}`;
  };
  const keysOf = (family: Family, target: string, entityId: string) => {
    const path = `${family}:${target}:${keyPart(entityId)}`;
    const at = space(entityId);
    return { record: `${at}:entity:${path}`, lock: `${at}:entity-lock:${path}` };
  };

  return {
    keysOf,

    /** The newest version of a clock applied for an entity at a target (what a provisional deletion follows). */
    async lastVersion(
      family: Family,
      target: string,
      entityId: string,
      clock: VersionClock,
    ): Promise<string | undefined> {
      return (await redis.hget(keysOf(family, target, entityId).record, `version${clockSuffix(clock)}`)) ?? undefined;
    },

    /** The versioned steps of one entity's stream to one target, for one job. */
    mark(request: EntityMarkRequest): Mark {
      const keys = {
        ...keysOf(request.family, request.target, request.entityId),
        delivery: `${space(request.entityId)}:delivery:${request.idempotencyKey}`,
      };
      return {
        apply: (lock) =>
          commands.apply(keys, {
            version: request.version,
            idempotencyKey: request.idempotencyKey,
            deleting: request.deleting,
            provisional: request.provisional,
            pinTtlSeconds: request.pinToDelivery && request.clock === 'receipt' ? options.deliveryPinTtlSeconds : 0,
            lock,
            ordering: request.clock === 'api' ? (request.announce ? 'announce' : 'state') : 'event',
            clock: request.clock,
            recordTtlSeconds: options.markTtlSeconds,
            id: request.entityId,
            // Only what orders the stream: every field kept under 64 bytes keeps the hash in Redis'
            // compact encoding (docs/operations.md, "Sizing the order marks").
            fields: {},
            now: now(),
          }),
        forwarded: (version, token) =>
          commands.forwarded(keys, version, token, { clock: request.clock, recordTtlSeconds: options.markTtlSeconds }),
        // An API state newer than this one is applied before it goes out: this one is stale already.
        mayHaveForwarded: async (version) => {
          if (request.clock === 'api') return;
          await commands.forwarded(keys, version, '', {
            clock: request.clock,
            recordTtlSeconds: options.markTtlSeconds,
            pending: true,
          });
        },
        release: (token) => commands.release(keys, token),
      };
    },
  };
}

export type EntityMarks = ReturnType<typeof createEntityMarks>;
