import { createHash } from 'node:crypto';
import {
  API_ENTITIES,
  type ApiFamily,
  apiStateVersion,
  type EventType,
  provisionalDeletionVersion,
} from '@flexprice/contracts';
import { UnrecoverableError } from 'bullmq';
import type { ApiEntity } from '../outbound/flexprice-api.js';

/**
 * The state of an entity as one job (or the reconciler) applies it, whichever way it came: from a
 * webhook body, from Flexprice's API, or as a provisional deletion. What is forwarded has the
 * webhook's shape, `{"event_type": …, "<family key>": <entity>}`, so a service has one parser for
 * both modes; from the API, the entity is the JSON Flexprice sent, untouched.
 */
export interface EntityState {
  /** The Flexprice id of the entity. */
  id: string;
  /** The event type the state is forwarded as. */
  eventType: EventType;
  /**
   * The event type that asked for it (the job's, or the family's update event for the sync): what
   * it is forwarded as by a route that does not take `eventType` (a route for `feature.updated`
   * alone is sent the archived feature as `feature.updated`, not a `feature.deleted` it never asked for).
   */
  requested: EventType;
  /** The entity object (under the family key of the body). */
  entity: Record<string, unknown>;
  /**
   * A state a webhook carried is forwarded as that webhook was (every top-level key of it), under
   * `eventType`; one read from the API has only its entity.
   */
  webhook?: Record<string, unknown> | undefined;
  version: string;
  /** A deletion: final, or `provisional` (a confirmed 404 alone). */
  deleting: boolean;
  provisional: boolean;
  /** A later job of the same delivery id takes this one's version (webhook states of Svix). */
  pinToDelivery: boolean;
  source: 'webhook' | 'api' | 'sync';
  /**
   * An announcement (contracts' `ANNOUNCEMENTS`): the entity's current state under an event that
   * happened to it, forwarded once per delivery, also when that state was forwarded before.
   */
  announcement?: boolean;
}

/**
 * The `webhook-id` of a state read from the API: one per entity and version, whichever job or
 * sync run forwards it, so that a service dropping a repeated `webhook-id` drops only a repeat.
 */
export function stateForwardId(family: ApiFamily, id: string, version: string): string {
  return `st-${createHash('sha256').update(`${family}\n${id}\n${version}`).digest('hex').slice(0, 40)}`;
}

/** The forward id of a state: per state for one read from the API, per delivery otherwise. */
export function forwardIdOf(family: ApiFamily, state: EntityState): ((version: string) => string) | undefined {
  if (state.source === 'webhook' || state.announcement) return undefined;
  return (version) => stateForwardId(family, state.id, version);
}

/** The webhook-shaped body of a state. */
export function bodyOf(
  family: ApiFamily,
  state: Pick<EntityState, 'eventType' | 'entity' | 'webhook'>,
): Record<string, unknown> {
  if (state.webhook) return { ...state.webhook, event_type: state.eventType };
  return { event_type: state.eventType, [API_ENTITIES[family].key]: state.entity };
}

/** Flexprice's soft delete: an entity the API still reads, with this status, is gone. */
export const isSoftDeleted = (status: string | undefined) => status === 'archived' || status === 'deleted';

/**
 * The state to apply for an entity the API answered about. Soft-deleted: a final tombstone,
 * forwarded as the family's deletion event (or, for a family without one, under the job's event
 * type, its status saying so). Live: under the job's event type (the family's update event if that
 * was a deletion the API does not show).
 */
export function stateFromApi(
  family: ApiFamily,
  entity: ApiEntity,
  eventType: EventType,
  source: 'api' | 'sync',
): EntityState {
  const spec = API_ENTITIES[family];
  const deleted = isSoftDeleted(entity.status);
  const version = apiStateVersion({ deleted, updatedAt: entity.updatedAt ?? '' });
  if (version === undefined) {
    throw new UnrecoverableError(`Flexprice's API answered ${family} ${entity.id} without a readable updated_at`);
  }
  const forwardedAs: EventType = deleted
    ? (spec.deletion ?? eventType)
    : eventType === spec.deletion
      ? spec.update
      : eventType;
  return {
    id: entity.id,
    eventType: forwardedAs,
    requested: eventType,
    entity: entity.raw,
    version,
    deleting: deleted,
    provisional: false,
    pinToDelivery: false,
    source,
  };
}

/**
 * The tombstone of an entity the API does not have (a 404, confirmed by a second read): the
 * webhook's own entity, as a provisional deletion (`provisionalDeletionVersion`), ordered after
 * `lastVersion` (the kept one), so a later live state from the API supersedes it. Only for a family
 * with a deletion event.
 */
export function provisionalTombstone(
  family: ApiFamily & keyof { [F in ApiFamily as (typeof API_ENTITIES)[F]['deletion'] extends null ? never : F]: F },
  id: string,
  webhook: Record<string, unknown>,
  lastVersion: string | undefined,
  requested: EventType,
): EntityState {
  const entity = webhook[API_ENTITIES[family].key];
  return {
    id,
    eventType: API_ENTITIES[family].deletion,
    requested,
    entity: typeof entity === 'object' && entity !== null ? (entity as Record<string, unknown>) : { id },
    webhook,
    version: provisionalDeletionVersion(lastVersion),
    deleting: true,
    provisional: true,
    pinToDelivery: false,
    source: 'api',
  };
}

/** The families whose 404 (confirmed, in the key's environment) is a provisional deletion. */
export type DeletableFamily = Parameters<typeof provisionalTombstone>[0];

export function isDeletable(family: ApiFamily): family is DeletableFamily {
  return API_ENTITIES[family].deletion !== null;
}
