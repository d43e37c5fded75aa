import type { Family } from '@flexprice/contracts';

/**
 * The families the worker reads through Flexprice's API, as Flexprice's Go handlers answer them:
 * the wire names of each DTO (`internal/api/dto/*.go`, as `@flexprice/sdk` 2.0.1 models them),
 * money as decimal strings, the paths and filters of the SDK calls that reach them.
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

/** The webhook families whose entities the API serves (the names are the contracts' own). */
export const API_FAMILIES = [
  'customer',
  'subscription',
  'invoice',
  'payment',
  'wallet',
  'credit_note',
  'entitlement',
  'feature',
] as const satisfies readonly (Family & keyof ApiEntities)[];
export type ApiFamily = (typeof API_FAMILIES)[number];

/** How a family's list is asked for and what it honours. */
export interface SearchSpec {
  /** `POST /v1/<path>/search` with a JSON filter, or `GET /v1/<path>` with a query string. */
  transport: 'body' | 'query';
  /** The filter key of the family's own ids (entitlements have none). */
  ids?: string;
  /** Further keys honoured: filter key → the field it matches (a list matches any of its values). */
  match: Readonly<Record<string, string>>;
  /** `status` is the soft-delete status (`published` unless asked), or, for wallets, the
   *  `wallet_status` (`WalletFilter.Status` shadows the embedded one), only published wallets listed. */
  status: 'status' | 'wallet_status';
  /** Generic `filters` conditions (`updated_at`/`created_at`, `after`/`before`). */
  filters: boolean;
  /** `sort` as a list of `{field, direction}`, or as one field name with `order` beside it. */
  sort: 'conditions' | 'field';
}

export interface Environment {
  environmentId: string;
  tenantId: string;
}

/** The fields a test does not have to give: the id is its own, the times are the stand-in's. */
type Defaults<E> = Omit<E, 'id' | 'created_at' | 'updated_at'>;

export interface FamilySpec<E> {
  /** The collection under `/v1` (`creditnotes`: no hyphen, as the SDK's path has it). */
  path: string;
  /** `GET /v1/<path>/{id}`, absent where the SDK has no get (features). Some repositories read
   *  only published rows: a soft-deleted subscription or wallet is a 404, a customer is not. */
  get?: { archived: 'served' | 'not_found' };
  search?: SearchSpec;
  /** False where the DTO has no `status` (payments): held for the list filter, never served. */
  statusServed: boolean;
  defaults(id: string, env: Environment): Defaults<E>;
  /** What the CLI's demo gives an entity it creates on first read. */
  demo?(id: string): Partial<Defaults<E>>;
}

// Fixed dates and ids, so that an entity reads the same in every run.
const PERIOD_START = '2026-08-01T00:00:00Z';
const PERIOD_END = '2026-09-01T00:00:00Z';
const LINKED = {
  customer: 'cust_01STANDIN0000000000000000',
  plan: 'plan_01STANDIN0000000000000000',
  subscription: 'subs_01STANDIN0000000000000000',
  invoice: 'inv_01STANDIN00000000000000000',
  feature: 'feat_01STANDIN0000000000000000',
};
const base = (env: Environment) =>
  ({ environment_id: env.environmentId, tenant_id: env.tenantId, status: 'published' }) as const;

const searched = (spec: Partial<SearchSpec> & Pick<SearchSpec, 'match'>): SearchSpec => ({
  transport: 'body',
  status: 'status',
  filters: true,
  sort: 'conditions',
  ...spec,
});

export const FAMILY_SPECS: { readonly [F in ApiFamily]: FamilySpec<ApiEntities[F]> } = {
  customer: {
    path: 'customers',
    get: { archived: 'served' },
    search: searched({
      ids: 'customer_ids',
      match: { external_ids: 'external_id', external_id: 'external_id', email: 'email' },
    }),
    statusServed: true,
    defaults: (id, env) => ({ external_id: `ext-${id}`, name: id, ...base(env) }),
    demo: (id) => ({ name: `Demo customer ${id}` }),
  },
  subscription: {
    path: 'subscriptions',
    get: { archived: 'not_found' },
    search: searched({
      ids: 'subscription_ids',
      match: { subscription_status: 'subscription_status', customer_id: 'customer_id', plan_id: 'plan_id' },
    }),
    statusServed: true,
    defaults: (_id, env) => ({
      customer_id: LINKED.customer,
      plan_id: LINKED.plan,
      subscription_status: 'active',
      currency: 'usd',
      billing_anchor: PERIOD_START,
      start_date: PERIOD_START,
      current_period_start: PERIOD_START,
      current_period_end: PERIOD_END,
      cancel_at_period_end: false,
      billing_cadence: 'RECURRING',
      billing_period: 'MONTHLY',
      billing_period_count: 1,
      billing_cycle: 'anniversary',
      pause_status: 'none',
      customer_timezone: 'UTC',
      proration_behavior: 'create_prorations',
      version: 1,
      ...base(env),
    }),
  },
  invoice: {
    path: 'invoices',
    get: { archived: 'served' },
    search: searched({
      ids: 'invoice_ids',
      match: {
        invoice_status: 'invoice_status',
        payment_status: 'payment_status',
        customer_id: 'customer_id',
        subscription_id: 'subscription_id',
        invoice_type: 'invoice_type',
      },
    }),
    statusServed: true,
    defaults: (id, env) => ({
      customer_id: LINKED.customer,
      subscription_id: LINKED.subscription,
      invoice_type: 'SUBSCRIPTION',
      invoice_status: 'FINALIZED',
      payment_status: 'PENDING',
      currency: 'usd',
      amount_due: '100',
      amount_paid: '0',
      amount_remaining: '100',
      subtotal: '100',
      total: '100',
      invoice_number: `INV-${id}`,
      billing_sequence: 1,
      billing_period: 'MONTHLY',
      billing_reason: 'SUBSCRIPTION_CYCLE',
      period_start: PERIOD_START,
      period_end: PERIOD_END,
      due_date: PERIOD_END,
      finalized_at: PERIOD_END,
      version: 1,
      ...base(env),
    }),
  },
  payment: {
    path: 'payments',
    get: { archived: 'served' },
    search: searched({
      transport: 'query',
      ids: 'payment_ids',
      match: {
        payment_status: 'payment_status',
        destination_id: 'destination_id',
        destination_type: 'destination_type',
        payment_method_type: 'payment_method_type',
        currency: 'currency',
      },
      filters: false,
      sort: 'field',
    }),
    statusServed: false,
    defaults: (id, env) => ({
      idempotency_key: `idem-${id}`,
      destination_type: 'INVOICE',
      destination_id: LINKED.invoice,
      payment_method_type: 'OFFLINE',
      amount: '100',
      currency: 'usd',
      payment_status: 'SUCCEEDED',
      track_attempts: false,
      succeeded_at: PERIOD_END,
      ...base(env),
    }),
  },
  wallet: {
    path: 'wallets',
    get: { archived: 'not_found' },
    search: searched({ ids: 'wallet_ids', match: {}, status: 'wallet_status', filters: false, sort: 'field' }),
    statusServed: true,
    defaults: (_id, env) => ({
      customer_id: LINKED.customer,
      name: 'Prepaid credits',
      currency: 'usd',
      balance: '50',
      credit_balance: '50',
      conversion_rate: '1',
      topup_conversion_rate: '1',
      wallet_status: 'active',
      wallet_type: 'PRE_PAID',
      alert_state: 'ok',
      ...base(env),
    }),
  },
  credit_note: {
    path: 'creditnotes',
    get: { archived: 'served' },
    statusServed: true,
    defaults: (id, env) => ({
      invoice_id: LINKED.invoice,
      customer_id: LINKED.customer,
      subscription_id: LINKED.subscription,
      credit_note_number: `CN-${id}`,
      credit_note_status: 'FINALIZED',
      credit_note_type: 'ADJUSTMENT',
      reason: 'BILLING_ERROR',
      currency: 'usd',
      total_amount: '10',
      finalized_at: PERIOD_END,
      ...base(env),
    }),
  },
  entitlement: {
    path: 'entitlements',
    get: { archived: 'served' },
    search: searched({
      match: {
        entity_ids: 'entity_id',
        feature_ids: 'feature_id',
        entity_type: 'entity_type',
        feature_type: 'feature_type',
      },
    }),
    statusServed: true,
    defaults: (_id, env) => ({
      entity_type: 'PLAN',
      entity_id: LINKED.plan,
      plan_id: LINKED.plan,
      feature_id: LINKED.feature,
      feature_type: 'metered',
      is_enabled: true,
      is_soft_limit: false,
      usage_limit: 1000,
      usage_reset_period: 'MONTHLY',
      ...base(env),
    }),
  },
  feature: {
    path: 'features',
    search: searched({
      ids: 'feature_ids',
      match: { lookup_keys: 'lookup_key', lookup_key: 'lookup_key', meter_ids: 'meter_id' },
    }),
    statusServed: true,
    defaults: (id, env) => ({
      name: `Feature ${id}`,
      lookup_key: `key_${id}`,
      type: 'metered',
      unit_singular: 'call',
      unit_plural: 'calls',
      ...base(env),
    }),
  },
};
