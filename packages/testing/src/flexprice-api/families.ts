import type { Family } from '@flexprice/contracts';
import type { ApiEntities } from './entities.js';

/**
 * The families the worker reads through Flexprice's API: the paths and filters of the SDK calls
 * that reach them, what each list honours, and each entity's defaults (`entities.ts`).
 */

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
