import { z } from 'zod';
import type { EventType } from './event-types.js';
import { money, nonEmpty, timestamp } from './schemas/common.js';
import { customerSchema } from './schemas/customer.js';
import {
  alertStatusSchema,
  checkoutSessionSchema,
  creditNoteSchema,
  entitlementGrantAlertSchema,
  entitlementSchema,
  featureSchema,
  featureWalletBalanceAlertSchema,
  invoiceSchema,
  paymentSchema,
  rejectedUsageEventSchema,
  subscriptionPhaseSchema,
  subscriptionSchema,
  walletSchema,
  walletTransactionSchema,
} from './schemas/families.js';

// The body Flexprice POSTs: `{"event_type": "<name>", "<family key>": {...}}`, flat for alerts.
// No event id or timestamp travels in it. Unknown top-level keys are kept.

const customerEvent = <const T extends EventType>(type: T) =>
  z.looseObject({ event_type: z.literal(type), customer: customerSchema });

const subscriptionEvent = <const T extends EventType>(type: T) =>
  z.looseObject({ event_type: z.literal(type), subscription: subscriptionSchema });

const phaseEvent = <const T extends EventType>(type: T) =>
  z.looseObject({ event_type: z.literal(type), phase: subscriptionPhaseSchema });

const featureEvent = <const T extends EventType>(type: T) =>
  z.looseObject({ event_type: z.literal(type), feature: featureSchema });

const entitlementEvent = <const T extends EventType>(type: T) =>
  z.looseObject({ event_type: z.literal(type), entitlement: entitlementSchema });

const walletEvent = <const T extends EventType>(type: T) =>
  z.looseObject({ event_type: z.literal(type), wallet: walletSchema });

/** Wallet balance alerts: the wallet, plus the alert state that fired (absent on older releases). */
const walletAlertEvent = <const T extends EventType>(type: T) =>
  z.looseObject({
    event_type: z.literal(type),
    wallet: walletSchema,
    alert: z.looseObject({ state: alertStatusSchema }).optional(),
  });

/**
 * Spend alerts carry no `event_type` when delivered natively (it is inferred from the body, see
 * `resolveEventType`); Svix injects it.
 */
const spendAlertEvent = <const T extends EventType>(type: T) =>
  z.looseObject({
    event_type: z.literal(type).optional(),
    subscription: subscriptionSchema,
    subscription_line_item_id: nonEmpty.optional(),
    group_id: nonEmpty.optional(),
    alert_type: nonEmpty,
    alert_status: alertStatusSchema,
    current_spend: money,
    threshold: money.optional(),
    triggered_at: timestamp,
  });

const paymentEvent = <const T extends EventType>(type: T) =>
  z.looseObject({ event_type: z.literal(type), payment: paymentSchema });

const invoiceEvent = <const T extends EventType>(type: T) =>
  z.looseObject({ event_type: z.literal(type), invoice: invoiceSchema });

const creditNoteEvent = <const T extends EventType>(type: T) =>
  z.looseObject({ event_type: z.literal(type), credit_note: creditNoteSchema });

const checkoutEvent = <const T extends EventType>(type: T) =>
  z.looseObject({ event_type: z.literal(type), checkout_session: checkoutSessionSchema });

/** The envelope schema of each event type. The compiler insists on one entry per name. */
export const EVENT_SCHEMAS = {
  'customer.created': customerEvent('customer.created'),
  'customer.updated': customerEvent('customer.updated'),
  'customer.deleted': customerEvent('customer.deleted'),

  'subscription.created': subscriptionEvent('subscription.created'),
  'subscription.draft.created': subscriptionEvent('subscription.draft.created'),
  'subscription.activated': subscriptionEvent('subscription.activated'),
  'subscription.updated': subscriptionEvent('subscription.updated'),
  'subscription.paused': subscriptionEvent('subscription.paused'),
  'subscription.cancelled': subscriptionEvent('subscription.cancelled'),
  'subscription.resumed': subscriptionEvent('subscription.resumed'),
  'subscription.plan_changed': subscriptionEvent('subscription.plan_changed'),
  'subscription.renewal.due': subscriptionEvent('subscription.renewal.due'),

  'subscription.phase.created': phaseEvent('subscription.phase.created'),
  'subscription.phase.updated': phaseEvent('subscription.phase.updated'),
  'subscription.phase.deleted': phaseEvent('subscription.phase.deleted'),

  'feature.created': featureEvent('feature.created'),
  'feature.updated': featureEvent('feature.updated'),
  'feature.deleted': featureEvent('feature.deleted'),
  'feature.wallet_balance.alert': featureWalletBalanceAlertSchema.extend({
    event_type: z.literal('feature.wallet_balance.alert'),
  }),

  'entitlement.created': entitlementEvent('entitlement.created'),
  'entitlement.updated': entitlementEvent('entitlement.updated'),
  'entitlement.deleted': entitlementEvent('entitlement.deleted'),
  'entitlement.grant.exhausted': entitlementGrantAlertSchema.extend({
    event_type: z.literal('entitlement.grant.exhausted').optional(),
  }),

  'wallet.created': walletEvent('wallet.created'),
  'wallet.updated': walletEvent('wallet.updated'),
  'wallet.terminated': walletEvent('wallet.terminated'),
  'wallet.transaction.created': z.looseObject({
    event_type: z.literal('wallet.transaction.created'),
    transaction: walletTransactionSchema,
  }),
  // The only event whose family key differs from its sibling's.
  'wallet.transaction.updated': z.looseObject({
    event_type: z.literal('wallet.transaction.updated'),
    updated_transaction: walletTransactionSchema,
  }),

  'wallet.credit_balance.dropped': walletAlertEvent('wallet.credit_balance.dropped'),
  'wallet.credit_balance.recovered': walletAlertEvent('wallet.credit_balance.recovered'),
  'wallet.ongoing_balance.dropped': walletAlertEvent('wallet.ongoing_balance.dropped'),
  'wallet.ongoing_balance.recovered': walletAlertEvent('wallet.ongoing_balance.recovered'),
  'wallet.ongoing_balance.updated': walletAlertEvent('wallet.ongoing_balance.updated'),

  'subscription.spend.threshold_reached': spendAlertEvent('subscription.spend.threshold_reached'),
  'subscription.spend.threshold_recovered': spendAlertEvent('subscription.spend.threshold_recovered'),
  'subscription.line_item_spend.threshold_reached': spendAlertEvent('subscription.line_item_spend.threshold_reached'),
  'subscription.line_item_spend.threshold_recovered': spendAlertEvent(
    'subscription.line_item_spend.threshold_recovered',
  ),
  'subscription.group_spend.threshold_reached': spendAlertEvent('subscription.group_spend.threshold_reached'),
  'subscription.group_spend.threshold_recovered': spendAlertEvent('subscription.group_spend.threshold_recovered'),

  'payment.created': paymentEvent('payment.created'),
  'payment.updated': paymentEvent('payment.updated'),
  'payment.failed': paymentEvent('payment.failed'),
  'payment.success': paymentEvent('payment.success'),
  'payment.pending': paymentEvent('payment.pending'),

  'invoice.update.finalized': invoiceEvent('invoice.update.finalized'),
  'invoice.update.payment': invoiceEvent('invoice.update.payment'),
  'invoice.update.voided': invoiceEvent('invoice.update.voided'),
  'invoice.update': invoiceEvent('invoice.update'),
  'invoice.payment.overdue': invoiceEvent('invoice.payment.overdue'),
  'invoice.communication.triggered': invoiceEvent('invoice.communication.triggered'),

  'credit_note.created': creditNoteEvent('credit_note.created'),
  'credit_note.updated': creditNoteEvent('credit_note.updated'),

  'checkout.session.initiated': checkoutEvent('checkout.session.initiated'),
  'checkout.session.completed': checkoutEvent('checkout.session.completed'),
  'checkout.session.failed': checkoutEvent('checkout.session.failed'),
  'checkout.session.expired': checkoutEvent('checkout.session.expired'),

  'event.rejected': z.looseObject({
    event_type: z.literal('event.rejected'),
    reason: nonEmpty,
    event: rejectedUsageEventSchema,
  }),
} satisfies Record<EventType, z.ZodType>;

export type EventOf<T extends EventType> = z.infer<(typeof EVENT_SCHEMAS)[T]>;
/** Any validated Flexprice webhook body. */
export type WebhookEvent = { [T in EventType]: EventOf<T> }[EventType];
export type CustomerEvent = EventOf<'customer.created' | 'customer.updated' | 'customer.deleted'>;
