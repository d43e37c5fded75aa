import type { EventType } from './event-types.js';
import { acceptedMicrosOf, type Receipt } from './jobs.js';
import { stateVersion, timestampNanos } from './versions.js';

/**
 * What each event is about and what in its payload orders two states of it.
 *
 * - `id`: dotted path to the Flexprice id of the entity whose state the event carries; `null` when
 *   the event is about no single entity (`feature.wallet_balance.alert` carries up to three optional
 *   ids, none of them always; each `event.rejected` is about a usage event seen once).
 * - `scope`, `qualifiers`: what tells apart distinct things about one id, so that one never passes
 *   for a newer state of the other: a literal (a wallet's credit-balance alerts and its
 *   ongoing-balance alerts), and paths appended when present (a subscription's spend alerts per
 *   alert type, line item and group).
 * - `version`: dotted path to a modification time in the payload, when the payload carries one;
 *   `null` when it never does. Legacy (≤ v2.1.23) objects carry `updated_at`; the trimmed current
 *   ones do not (invoices still do), so most of these paths are present in one generation only.
 *   Without it, the order in which the receivers accepted the deliveries decides.
 * - `deletes`: the event says the entity is gone for good (Flexprice never reuses ids): its state
 *   outranks every live one, so nothing that arrives after it revives the entity.
 */
export interface EntitySpec {
  id: string | null;
  scope: string | null;
  qualifiers: readonly string[];
  version: string | null;
  deletes: boolean;
}

/** The entity under the body's family key: its `id`, versioned by its `updated_at` when present. */
const nested = (key: string, deletes = false): EntitySpec => ({
  id: `${key}.id`,
  scope: null,
  qualifiers: [],
  version: `${key}.updated_at`,
  deletes,
});
/** A wallet's balance alerts of one kind (`credit_balance`, `ongoing_balance`). */
const walletAlert = (kind: string): EntitySpec => ({ ...nested('wallet'), scope: kind });
/** A notification about an entity, ordered by when it was raised (`triggered_at`). */
const raised = (id: string | null, version: string | null, qualifiers: readonly string[] = []): EntitySpec => ({
  id,
  scope: null,
  qualifiers,
  version,
  deletes: false,
});
/** A subscription's spend alert: one stream per alert type, line item and group. */
const spendAlert = raised('subscription.id', 'triggered_at', ['alert_type', 'subscription_line_item_id', 'group_id']);

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

  'wallet.credit_balance.dropped': walletAlert('credit_balance'),
  'wallet.credit_balance.recovered': walletAlert('credit_balance'),
  'wallet.ongoing_balance.dropped': walletAlert('ongoing_balance'),
  'wallet.ongoing_balance.recovered': walletAlert('ongoing_balance'),
  'wallet.ongoing_balance.updated': walletAlert('ongoing_balance'),

  // Spend alerts: about the subscription, ordered by when the threshold was crossed.
  'subscription.spend.threshold_reached': spendAlert,
  'subscription.spend.threshold_recovered': spendAlert,
  'subscription.line_item_spend.threshold_reached': spendAlert,
  'subscription.line_item_spend.threshold_recovered': spendAlert,
  'subscription.group_spend.threshold_reached': spendAlert,
  'subscription.group_spend.threshold_recovered': spendAlert,

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

  // Each refused usage event is refused once: nothing to order it with (and one mark per usage
  // event would grow without bound).
  'event.rejected': raised(null, 'event.timestamp'),
} as const satisfies Record<EventType, EntitySpec>;

/** The value at a dotted path of a body (`invoice.updated_at`), or undefined. */
export function valueAt(body: unknown, path: string): unknown {
  let value = body;
  for (const segment of path.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

/**
 * The entity a (validated) event is about, or undefined when it names none: its id, then its scope
 * and qualifiers where it has them, each in its place (`subs_1#subscription_line_item_spend#li_1#`).
 */
export function entityIdOf(eventType: EventType, event: unknown): string | undefined {
  const spec: EntitySpec = ENTITY_CATALOG[eventType];
  if (spec.id === null) return undefined;
  const id = valueAt(event, spec.id);
  if (typeof id !== 'string' || id.length === 0) return undefined;
  // Every qualifier keeps its place, present or not: a line item `x` and a group `x` differ.
  const parts = spec.qualifiers.map((path) => {
    const value = valueAt(event, path);
    return typeof value === 'string' ? value : '';
  });
  return [id, ...(spec.scope === null ? [] : [spec.scope]), ...parts].join('#');
}

/** The payload's own modification time of the entity, as it was sent, or undefined. */
export function payloadVersionOf(eventType: EventType, event: unknown): string | undefined {
  const path = ENTITY_CATALOG[eventType].version;
  if (path === null) return undefined;
  const value = valueAt(event, path);
  return typeof value === 'string' ? value : undefined;
}

/**
 * Which clock a version of this event is read from: the payload's own time (`updated_at`,
 * `triggered_at`), or, without one, the time a receiver accepted it. Versions on different clocks
 * are never compared: an invoice's e-mail notification (no `updated_at` in its trimmed payload) is
 * no newer or older state of the invoice than its `updated_at`-stamped updates.
 */
export function versionClockOf(eventType: EventType, event: unknown): 'payload' | 'receipt' {
  const time = payloadVersionOf(eventType, event);
  return time !== undefined && timestampNanos(time) !== undefined ? 'payload' : 'receipt';
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
