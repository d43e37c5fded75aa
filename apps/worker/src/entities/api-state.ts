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
): EntityState {
  const entity = webhook[API_ENTITIES[family].key];
  return {
    id,
    eventType: API_ENTITIES[family].deletion,
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
