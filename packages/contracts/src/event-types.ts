/**
 * Every webhook event name Flexprice sends (57 at v2.1.25), with the family it belongs to and the
 * top-level key of the body that holds the entity. `null` marks the flat alert payloads, whose fields
 * sit at the top level next to `event_type`.
 */
export const EVENT_CATALOG = {
  'customer.created': { family: 'customer', key: 'customer' },
  'customer.updated': { family: 'customer', key: 'customer' },
  'customer.deleted': { family: 'customer', key: 'customer' },

  'subscription.created': { family: 'subscription', key: 'subscription' },
  'subscription.draft.created': { family: 'subscription', key: 'subscription' },
  'subscription.activated': { family: 'subscription', key: 'subscription' },
  'subscription.updated': { family: 'subscription', key: 'subscription' },
  'subscription.paused': { family: 'subscription', key: 'subscription' },
  'subscription.cancelled': { family: 'subscription', key: 'subscription' },
  'subscription.resumed': { family: 'subscription', key: 'subscription' },
  'subscription.plan_changed': { family: 'subscription', key: 'subscription' },
  'subscription.renewal.due': { family: 'subscription', key: 'subscription' },

  'subscription.phase.created': { family: 'subscription_phase', key: 'phase' },
  'subscription.phase.updated': { family: 'subscription_phase', key: 'phase' },
  'subscription.phase.deleted': { family: 'subscription_phase', key: 'phase' },

  'feature.created': { family: 'feature', key: 'feature' },
  'feature.updated': { family: 'feature', key: 'feature' },
  'feature.deleted': { family: 'feature', key: 'feature' },
  'feature.wallet_balance.alert': { family: 'feature', key: null },

  'entitlement.created': { family: 'entitlement', key: 'entitlement' },
  'entitlement.updated': { family: 'entitlement', key: 'entitlement' },
  'entitlement.deleted': { family: 'entitlement', key: 'entitlement' },
  'entitlement.grant.exhausted': { family: 'entitlement', key: null },

  'wallet.created': { family: 'wallet', key: 'wallet' },
  'wallet.updated': { family: 'wallet', key: 'wallet' },
  'wallet.terminated': { family: 'wallet', key: 'wallet' },
  'wallet.transaction.created': { family: 'wallet', key: 'transaction' },
  'wallet.transaction.updated': { family: 'wallet', key: 'updated_transaction' },

  'wallet.credit_balance.dropped': { family: 'wallet_alert', key: 'wallet' },
  'wallet.credit_balance.recovered': { family: 'wallet_alert', key: 'wallet' },
  'wallet.ongoing_balance.dropped': { family: 'wallet_alert', key: 'wallet' },
  'wallet.ongoing_balance.recovered': { family: 'wallet_alert', key: 'wallet' },
  'wallet.ongoing_balance.updated': { family: 'wallet_alert', key: 'wallet' },

  'subscription.spend.threshold_reached': { family: 'spend_alert', key: 'subscription' },
  'subscription.spend.threshold_recovered': { family: 'spend_alert', key: 'subscription' },
  'subscription.line_item_spend.threshold_reached': { family: 'spend_alert', key: 'subscription' },
  'subscription.line_item_spend.threshold_recovered': { family: 'spend_alert', key: 'subscription' },
  'subscription.group_spend.threshold_reached': { family: 'spend_alert', key: 'subscription' },
  'subscription.group_spend.threshold_recovered': { family: 'spend_alert', key: 'subscription' },

  'payment.created': { family: 'payment', key: 'payment' },
  'payment.updated': { family: 'payment', key: 'payment' },
  'payment.failed': { family: 'payment', key: 'payment' },
  'payment.success': { family: 'payment', key: 'payment' },
  'payment.pending': { family: 'payment', key: 'payment' },

  'invoice.update.finalized': { family: 'invoice', key: 'invoice' },
  'invoice.update.payment': { family: 'invoice', key: 'invoice' },
  'invoice.update.voided': { family: 'invoice', key: 'invoice' },
  'invoice.update': { family: 'invoice', key: 'invoice' },
  'invoice.payment.overdue': { family: 'invoice', key: 'invoice' },
  'invoice.communication.triggered': { family: 'invoice', key: 'invoice' },

  'credit_note.created': { family: 'credit_note', key: 'credit_note' },
  'credit_note.updated': { family: 'credit_note', key: 'credit_note' },

  'checkout.session.initiated': { family: 'checkout', key: 'checkout_session' },
  'checkout.session.completed': { family: 'checkout', key: 'checkout_session' },
  'checkout.session.failed': { family: 'checkout', key: 'checkout_session' },
  'checkout.session.expired': { family: 'checkout', key: 'checkout_session' },

  'event.rejected': { family: 'usage', key: 'event' },
} as const satisfies Record<string, { family: string; key: string | null }>;

export type EventType = keyof typeof EVENT_CATALOG;
export type Family = (typeof EVENT_CATALOG)[EventType]['family'];

export const EVENT_TYPES = Object.keys(EVENT_CATALOG) as EventType[];

export const FAMILIES = [...new Set(EVENT_TYPES.map((type) => EVENT_CATALOG[type].family))] as Family[];

export function isEventType(value: string): value is EventType {
  return Object.hasOwn(EVENT_CATALOG, value);
}

export function familyOf(type: EventType): Family {
  return EVENT_CATALOG[type].family;
}
