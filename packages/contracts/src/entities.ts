import type { EventType } from './event-types.js';
import { acceptedMicrosOf, type Receipt } from './jobs.js';
import { stateVersion } from './versions.js';

/**
 * What each event is about and what in its payload orders two states of it.
 *
 * - `id`: dotted path to the Flexprice id of the entity whose state the event carries; `null` when
 *   the event is about no single entity (`feature.wallet_balance.alert` carries up to three optional
 *   ids, none of them always).
 * - `version`: dotted path to a modification time in the payload, when the payload carries one;
 *   `null` when it never does. Legacy (≤ v2.1.23) objects carry `updated_at`; the trimmed current
 *   ones do not (invoices still do), so most of these paths are present in one generation only.
 *   Without it, the order in which the receivers accepted the deliveries decides.
 * - `deletes`: the event says the entity is gone for good (Flexprice never reuses ids): its state
 *   outranks every live one, so nothing that arrives after it revives the entity.
 */
export interface EntitySpec {
  id: string | null;
  version: string | null;
  deletes: boolean;
}

/** The entity under the body's family key: its `id`, versioned by its `updated_at` when present. */
const nested = (key: string, deletes = false): EntitySpec => ({
  id: `${key}.id`,
  version: `${key}.updated_at`,
  deletes,
});
/** A notification about an entity, ordered by when it was raised (`triggered_at`, `timestamp`). */
const raised = (id: string | null, version: string | null): EntitySpec => ({ id, version, deletes: false });

export const ENTITY_CATALOG = {
  'customer.created': nested('customer'),
  'customer.updated': nested('customer'),
  'customer.deleted': nested('customer', true),

  'subscription.created': nested('subscription'),
  'subscription.draft.created': nested('subscription'),
  'subscription.activated': nested('subscription'),
  'subscription.updated': nested('subscription'),
  'subscription.paused': nested('subscription'),
  'subscription.cancelled': nested('subscription'),
  'subscription.resumed': nested('subscription'),
  'subscription.plan_changed': nested('subscription'),
  'subscription.renewal.due': nested('subscription'),

  'subscription.phase.created': nested('phase'),
  'subscription.phase.updated': nested('phase'),
  'subscription.phase.deleted': nested('phase', true),

  'feature.created': nested('feature'),
  'feature.updated': nested('feature'),
  'feature.deleted': nested('feature', true),
  'feature.wallet_balance.alert': raised(null, null),

  'entitlement.created': nested('entitlement'),
  'entitlement.updated': nested('entitlement'),
  'entitlement.deleted': nested('entitlement', true),
  'entitlement.grant.exhausted': raised('entitlement_grant_id', 'triggered_at'),

  'wallet.created': nested('wallet'),
  'wallet.updated': nested('wallet'),
  'wallet.terminated': nested('wallet'),
  'wallet.transaction.created': nested('transaction'),
  'wallet.transaction.updated': nested('updated_transaction'),

  'wallet.credit_balance.dropped': nested('wallet'),
  'wallet.credit_balance.recovered': nested('wallet'),
  'wallet.ongoing_balance.dropped': nested('wallet'),
  'wallet.ongoing_balance.recovered': nested('wallet'),
  'wallet.ongoing_balance.updated': nested('wallet'),

  // Spend alerts: about the subscription, ordered by when the threshold was crossed.
  'subscription.spend.threshold_reached': raised('subscription.id', 'triggered_at'),
  'subscription.spend.threshold_recovered': raised('subscription.id', 'triggered_at'),
  'subscription.line_item_spend.threshold_reached': raised('subscription.id', 'triggered_at'),
  'subscription.line_item_spend.threshold_recovered': raised('subscription.id', 'triggered_at'),
  'subscription.group_spend.threshold_reached': raised('subscription.id', 'triggered_at'),
  'subscription.group_spend.threshold_recovered': raised('subscription.id', 'triggered_at'),

  'payment.created': nested('payment'),
  'payment.updated': nested('payment'),
  'payment.failed': nested('payment'),
  'payment.success': nested('payment'),
  'payment.pending': nested('payment'),

  'invoice.update.finalized': nested('invoice'),
  'invoice.update.payment': nested('invoice'),
  'invoice.update.voided': nested('invoice'),
  'invoice.update': nested('invoice'),
  'invoice.payment.overdue': nested('invoice'),
  'invoice.communication.triggered': nested('invoice'),

  'credit_note.created': nested('credit_note'),
  'credit_note.updated': nested('credit_note'),

  'checkout.session.initiated': nested('checkout_session'),
  'checkout.session.completed': nested('checkout_session'),
  'checkout.session.failed': nested('checkout_session'),
  'checkout.session.expired': nested('checkout_session'),

  // The refused usage event is a snapshot taken when it was refused (the only one).
  'event.rejected': raised('event.id', 'event.timestamp'),
} as const satisfies Record<EventType, EntitySpec>;

function valueAt(body: unknown, path: string): unknown {
  let value = body;
  for (const segment of path.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

/** The id of the entity a (validated) event carries, or undefined when it names none. */
export function entityIdOf(eventType: EventType, event: unknown): string | undefined {
  const path = ENTITY_CATALOG[eventType].id;
  if (path === null) return undefined;
  const id = valueAt(event, path);
  return typeof id === 'string' && id.length > 0 ? id : undefined;
}

/** The payload's own modification time of the entity, as it was sent, or undefined. */
export function payloadVersionOf(eventType: EventType, event: unknown): string | undefined {
  const path = ENTITY_CATALOG[eventType].version;
  if (path === null) return undefined;
  const value = valueAt(event, path);
  return typeof value === 'string' ? value : undefined;
}

/**
 * The version of the state a queued event carries (`versions.ts`): deletion or not, its payload
 * time where it has one, when it was accepted, and the job id to break a tie.
 */
export function eventVersion(eventType: EventType, event: unknown, receipt: Receipt, jobId: string): string {
  return stateVersion({
    deleted: ENTITY_CATALOG[eventType].deletes,
    payloadTime: payloadVersionOf(eventType, event),
    acceptedMicros: acceptedMicrosOf(receipt),
    tieBreak: jobId,
  });
}
