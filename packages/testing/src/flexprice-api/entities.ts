/**
 * The entities Flexprice's API answers, family by family: the wire names of each Go DTO
 * (`internal/api/dto/*.go`, as `@flexprice/sdk` 2.0.1 models them), money as decimal strings.
 */

/** Flexprice's soft delete (`types.Status`): `archived` when deleted through the API. */
export type EntityStatus = 'published' | 'archived' | 'deleted';

/** An enum Flexprice may grow: the SDK's enums are open (an unknown value passes), so are these. */
type Open<T extends string> = T | (string & {});

type PaymentStatus = Open<
  | 'INITIATED'
  | 'PENDING'
  | 'PROCESSING'
  | 'SUCCEEDED'
  | 'OVERPAID'
  | 'FAILED'
  | 'REFUNDED'
  | 'PARTIALLY_REFUNDED'
  | 'VOIDED'
>;
type Period = Open<'MONTHLY' | 'ANNUAL' | 'WEEKLY' | 'DAILY' | 'QUARTERLY' | 'HALF_YEARLY'>;
type FeatureType = Open<'metered' | 'boolean' | 'static' | 'config'>;

/** `types.BaseModel` plus the environment, as most DTOs embed them. */
interface BaseModel {
  id: string;
  status: EntityStatus;
  created_at: string;
  updated_at: string;
  tenant_id: string;
  environment_id: string;
  created_by?: string;
  updated_by?: string;
  /** The user's own keys (`types.Metadata`); served as given, never renamed. */
  metadata?: Record<string, string>;
}

/** A customer as the API returns it (`dto.CustomerResponse`): the legacy, full shape. */
export interface ApiCustomer {
  id: string;
  external_id: string;
  name: string;
  environment_id: string;
  tenant_id: string;
  status: EntityStatus;
  created_at: string;
  updated_at: string;
  email?: string;
  address_line1?: string;
  address_line2?: string;
  address_city?: string;
  address_state?: string;
  address_postal_code?: string;
  address_country?: string;
  metadata?: Record<string, string>;
  created_by?: string;
  updated_by?: string;
}

/** `dto.SubscriptionResponse` without its expansions (`plan`, `customer`, `line_items`, …). */
export interface ApiSubscription extends BaseModel {
  customer_id: string;
  plan_id: string;
  subscription_status: Open<'active' | 'paused' | 'cancelled' | 'incomplete' | 'trialing' | 'draft'>;
  currency: string;
  lookup_key?: string;
  billing_anchor: string;
  start_date: string;
  end_date?: string;
  current_period_start: string;
  current_period_end: string;
  cancelled_at?: string;
  cancel_at?: string;
  cancel_at_period_end: boolean;
  trial_start?: string;
  trial_end?: string;
  billing_cadence: Open<'RECURRING' | 'ONETIME'>;
  billing_period: Period;
  billing_period_count: number;
  billing_cycle: Open<'anniversary' | 'calendar'>;
  pause_status: Open<'none' | 'active' | 'scheduled' | 'completed' | 'cancelled'>;
  parent_subscription_id?: string;
  customer_timezone?: string;
  proration_behavior?: Open<'create_prorations' | 'none'>;
  collection_method?: string;
  payment_behavior?: string;
  version: number;
}

/** `dto.InvoiceResponse` without its expansions (`line_items`, `customer`, `subscription`, …). */
export interface ApiInvoice extends BaseModel {
  customer_id: string;
  subscription_id?: string;
  invoice_type: Open<'SUBSCRIPTION' | 'ONE_OFF' | 'CREDIT'>;
  invoice_status: Open<'DRAFT' | 'FINALIZED' | 'VOIDED' | 'SKIPPED'>;
  payment_status: PaymentStatus;
  currency: string;
  amount_due: string;
  amount_paid: string;
  amount_remaining: string;
  subtotal: string;
  total: string;
  invoice_number?: string;
  billing_sequence?: number;
  billing_period?: Period;
  billing_reason?: string;
  period_start?: string;
  period_end?: string;
  due_date?: string;
  finalized_at?: string;
  paid_at?: string;
  voided_at?: string;
  invoice_pdf_url?: string;
  version: number;
}

/**
 * `dto.PaymentResponse`. It has no `status` field: the stand-in holds one (a deleted payment is
 * archived, and the list filters on it) but never serves it. There is no `customer_id` either.
 */
export interface ApiPayment extends BaseModel {
  idempotency_key?: string;
  /** The SDK 2.0.1 knows only `INVOICE` (a closed enum): `CUSTOMER` fails its validation. */
  destination_type: Open<'INVOICE' | 'CUSTOMER'>;
  destination_id: string;
  payment_method_type: Open<'CARD' | 'ACH' | 'OFFLINE' | 'CREDITS' | 'PAYMENT_LINK'>;
  payment_method_id?: string;
  amount: string;
  currency: string;
  payment_status: PaymentStatus;
  track_attempts: boolean;
  payment_gateway?: string;
  gateway_payment_id?: string;
  succeeded_at?: string;
  failed_at?: string;
  refunded_at?: string;
  voided_at?: string;
  error_message?: string;
  invoice_number?: string;
}

/** `dto.WalletResponse`. A wallet ends by `wallet_status: closed` (terminated), not by deletion. */
export interface ApiWallet extends BaseModel {
  customer_id: string;
  name?: string;
  description?: string;
  currency: string;
  balance: string;
  credit_balance: string;
  conversion_rate: string;
  topup_conversion_rate?: string;
  wallet_status: Open<'active' | 'frozen' | 'closed'>;
  wallet_type: Open<'PRE_PAID' | 'POST_PAID'>;
  alert_state?: Open<'ok' | 'info' | 'warning' | 'in_alarm'>;
}

/** `dto.CreditNoteResponse` without its expansions. Ends by `credit_note_status: VOIDED`. */
export interface ApiCreditNote extends BaseModel {
  invoice_id: string;
  customer_id: string;
  subscription_id?: string;
  credit_note_number?: string;
  credit_note_status: Open<'DRAFT' | 'FINALIZED' | 'VOIDED'>;
  credit_note_type: Open<'ADJUSTMENT' | 'REFUND'>;
  reason: string;
  memo?: string;
  currency: string;
  total_amount: string;
  refund_status?: PaymentStatus;
  finalized_at?: string;
  voided_at?: string;
}

/** `dto.EntitlementResponse` without its expansions (`feature`, `plan`, `addon`). */
export interface ApiEntitlement extends BaseModel {
  entity_type: Open<'PLAN' | 'SUBSCRIPTION' | 'ADDON'>;
  entity_id: string;
  plan_id?: string;
  feature_id: string;
  feature_type: FeatureType;
  is_enabled: boolean;
  is_soft_limit: boolean;
  usage_limit?: number;
  usage_reset_period?: Open<'MONTHLY' | 'ANNUAL' | 'WEEKLY' | 'DAILY' | 'QUARTERLY' | 'HALF_YEARLY' | 'NEVER'>;
  static_value?: string;
}

/** `dto.FeatureResponse` without its expansion (`meter`). */
export interface ApiFeature extends BaseModel {
  name: string;
  lookup_key: string;
  type: FeatureType;
  description?: string;
  unit_singular?: string;
  unit_plural?: string;
  meter_id?: string;
}

export interface ApiEntities {
  customer: ApiCustomer;
  subscription: ApiSubscription;
  invoice: ApiInvoice;
  payment: ApiPayment;
  wallet: ApiWallet;
  credit_note: ApiCreditNote;
  entitlement: ApiEntitlement;
  feature: ApiFeature;
}
