import { EVENT_CATALOG, EVENT_TYPES, type EventType, type Family } from './event-types.js';

/**
 * The families whose entity Flexprice's API can read (through `@flexprice/sdk`): with
 * FLEXPRICE_API_KEY, a webhook of theirs is a notification, and what is stored and forwarded is the
 * entity as the API answers it when the job runs, versioned by its `updated_at`. The worker's
 * `entities/families.ts` says which SDK calls read each one; this table says what the receivers and
 * the docs need to know, next to the entity catalog (`entities.ts`).
 *
 * - `key`: the body key of the entity (as in `EVENT_CATALOG`), and of the forwarded body.
 * - `deletion`: the family's deletion event. An entity the API shows deleted (`status` archived or
 *   deleted) is forwarded as it, once, and is final; an entity the API answers 404 for, twice and
 *   far enough apart, in the key's own environment, is a provisional deletion. A family without one
 *   (invoices, subscriptions, payments, wallets, credit notes: they end by a status, never by
 *   deletion) turns such a 404 into a dead letter: the API does not know the entity.
 * - `update`: the event type a state found by the reconciler (or a deletion the API does not show)
 *   is forwarded as.
 * - `environment`: where a webhook body of the family says the entity's environment, when it does
 *   (a 404 outside the key's environment says nothing about the entity).
 *
 * Notification families (wallet balance, spend and grant alerts, `event.rejected`, checkout
 * sessions, wallet transactions, subscription phases: no entity the SDK reads) are not here: they
 * go out from the webhook body in either mode.
 */
export interface ApiEntitySpec {
  key: string;
  deletion: EventType | null;
  update: EventType;
  environment: readonly string[];
}

export const API_ENTITIES = {
  customer: {
    key: 'customer',
    deletion: 'customer.deleted',
    update: 'customer.updated',
    environment: ['customer.environment_id'],
  },
  subscription: {
    key: 'subscription',
    deletion: null,
    update: 'subscription.updated',
    environment: ['subscription.environment_id', 'subscription.customer.environment_id'],
  },
  invoice: { key: 'invoice', deletion: null, update: 'invoice.update', environment: ['invoice.environment_id'] },
  payment: { key: 'payment', deletion: null, update: 'payment.updated', environment: ['payment.environment_id'] },
  wallet: { key: 'wallet', deletion: null, update: 'wallet.updated', environment: ['wallet.environment_id'] },
  credit_note: {
    key: 'credit_note',
    deletion: null,
    update: 'credit_note.updated',
    environment: ['credit_note.environment_id'],
  },
  entitlement: {
    key: 'entitlement',
    deletion: 'entitlement.deleted',
    update: 'entitlement.updated',
    environment: ['entitlement.environment_id'],
  },
  feature: {
    key: 'feature',
    deletion: 'feature.deleted',
    update: 'feature.updated',
    environment: ['feature.environment_id'],
  },
} as const satisfies Partial<Record<Family, ApiEntitySpec>>;

export type ApiFamily = keyof typeof API_ENTITIES;

export const API_FAMILIES = Object.keys(API_ENTITIES) as ApiFamily[];

/**
 * Events of an API-backed family that announce something rather than change the entity: the
 * renewal coming, the invoice overdue, its e-mail sent. Each is its own event: it goes out once per
 * delivery (its own `webhook-id`) with the entity's current state read from the API, also when
 * that state was forwarded before, and never with a state older than one forwarded (its body, a
 * Svix retry's content, could be).
 */
export const ANNOUNCEMENTS = [
  'subscription.renewal.due',
  'invoice.payment.overdue',
  'invoice.communication.triggered',
] as const satisfies readonly EventType[];

function isApiFamily(family: Family): family is ApiFamily {
  return Object.hasOwn(API_ENTITIES, family);
}

/**
 * The API-backed family an event type's state is read from, or undefined when it goes out from its
 * body (a notification family, or an event about another object of the family: a wallet's
 * transactions).
 */
export function apiFamilyOf(eventType: EventType): ApiFamily | undefined {
  const { family, key } = EVENT_CATALOG[eventType];
  return isApiFamily(family) && key === API_ENTITIES[family].key ? family : undefined;
}

export function isAnnouncement(eventType: EventType): boolean {
  return (ANNOUNCEMENTS as readonly EventType[]).includes(eventType);
}

/** Every event type whose state is read from the API when a key is set. */
export const API_BACKED_EVENTS: readonly EventType[] = EVENT_TYPES.filter((type) => apiFamilyOf(type) !== undefined);
