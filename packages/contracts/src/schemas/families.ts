import { z } from 'zod';
import { money, nonEmpty, timestamp } from './common.js';

// Families other than customer: their identifying fields are checked strictly, everything else is
// kept as sent (both payload generations, and whatever a newer Flexprice adds).

export const subscriptionSchema = z.looseObject({
  id: nonEmpty,
  customer_id: nonEmpty,
  plan_id: nonEmpty,
  subscription_status: z.enum(['active', 'paused', 'cancelled', 'incomplete', 'trialing', 'draft']),
});
export type Subscription = z.infer<typeof subscriptionSchema>;

export const subscriptionPhaseSchema = z.looseObject({
  id: nonEmpty,
  subscription_id: nonEmpty,
  start_date: timestamp,
  end_date: timestamp.nullish(),
});
export type SubscriptionPhase = z.infer<typeof subscriptionPhaseSchema>;

export const featureSchema = z.looseObject({
  id: nonEmpty,
  name: nonEmpty,
  lookup_key: z.string(),
  type: z.enum(['metered', 'boolean', 'static', 'config']),
});
export type Feature = z.infer<typeof featureSchema>;

export const alertStatusSchema = z.enum(['ok', 'info', 'warning', 'in_alarm']);
export type AlertStatus = z.infer<typeof alertStatusSchema>;

/** `feature.wallet_balance.alert`: flat; the current shape carries ids, the legacy one nested objects. */
export const featureWalletBalanceAlertSchema = z.looseObject({
  alert_type: nonEmpty,
  alert_status: alertStatusSchema,
  feature_id: nonEmpty.optional(),
  wallet_id: nonEmpty.optional(),
  customer_id: nonEmpty.optional(),
});
export type FeatureWalletBalanceAlert = z.infer<typeof featureWalletBalanceAlertSchema>;

export const entitlementSchema = z.looseObject({
  id: nonEmpty,
  entity_type: z.enum(['PLAN', 'SUBSCRIPTION', 'ADDON']),
  entity_id: nonEmpty,
  feature_id: nonEmpty,
});
export type Entitlement = z.infer<typeof entitlementSchema>;

/** `entitlement.grant.exhausted`: flat, and without `event_type` in native mode. */
export const entitlementGrantAlertSchema = z.looseObject({
  subscription_id: nonEmpty,
  customer_id: nonEmpty,
  entitlement_id: nonEmpty,
  entitlement_grant_id: nonEmpty,
  alert_type: nonEmpty,
  alert_status: alertStatusSchema,
  usage_ratio: money,
  triggered_at: timestamp,
});
export type EntitlementGrantAlert = z.infer<typeof entitlementGrantAlertSchema>;

export const walletSchema = z.looseObject({
  id: nonEmpty,
  customer_id: nonEmpty,
  wallet_status: z.enum(['active', 'frozen', 'closed']),
  currency: nonEmpty,
});
export type Wallet = z.infer<typeof walletSchema>;

export const walletTransactionSchema = z.looseObject({
  id: nonEmpty,
  wallet_id: nonEmpty,
  type: z.enum(['credit', 'debit']),
  transaction_status: z.enum(['pending', 'completed', 'failed']),
  amount: money,
});
export type WalletTransaction = z.infer<typeof walletTransactionSchema>;

export const paymentStatusSchema = z.enum([
  'INITIATED',
  'PENDING',
  'PROCESSING',
  'SUCCEEDED',
  'OVERPAID',
  'FAILED',
  'REFUNDED',
  'PARTIALLY_REFUNDED',
  'VOIDED',
]);

export const paymentSchema = z.looseObject({
  id: nonEmpty,
  payment_status: paymentStatusSchema,
  destination_type: z.enum(['INVOICE', 'CUSTOMER']),
  destination_id: nonEmpty,
  amount: money,
  currency: nonEmpty,
});
export type Payment = z.infer<typeof paymentSchema>;

/**
 * The full `dto.InvoiceResponse` for most invoice events, the trimmed one for
 * `invoice.communication.triggered` (no tenant, status, line items or customer).
 */
export const invoiceSchema = z.looseObject({
  id: nonEmpty,
  customer_id: nonEmpty,
  environment_id: nonEmpty,
  tenant_id: nonEmpty.optional(),
  invoice_status: z.enum(['DRAFT', 'FINALIZED', 'VOIDED', 'SKIPPED']),
  payment_status: paymentStatusSchema,
  version: z.number().int().optional(),
  updated_at: timestamp.optional(),
});
export type Invoice = z.infer<typeof invoiceSchema>;

export const creditNoteSchema = z.looseObject({
  id: nonEmpty,
  invoice_id: nonEmpty,
  customer_id: nonEmpty,
  credit_note_status: z.enum(['DRAFT', 'FINALIZED', 'VOIDED']),
  credit_note_type: z.enum(['ADJUSTMENT', 'REFUND']),
  total_amount: money,
  currency: nonEmpty,
});
export type CreditNote = z.infer<typeof creditNoteSchema>;

export const checkoutSessionSchema = z.looseObject({
  id: nonEmpty,
  customer_id: nonEmpty,
  checkout_status: z.enum(['initiated', 'pending', 'completed', 'failed', 'expired']),
});
export type CheckoutSession = z.infer<typeof checkoutSessionSchema>;

/** The usage event Flexprice refused, snapshotted when it was refused. */
export const rejectedUsageEventSchema = z.looseObject({
  id: nonEmpty,
  event_name: nonEmpty,
  timestamp: timestamp,
});
export type RejectedUsageEvent = z.infer<typeof rejectedUsageEventSchema>;
