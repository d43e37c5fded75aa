import type { ApiFamily } from '@flexprice/contracts';
import type { Flexprice } from '@flexprice/sdk';
import type { CustomerFilter } from '@flexprice/sdk/sdk/models';

/**
 * How Flexprice's API reads each family (`@flexprice/sdk` 2.0.1; contracts' `API_ENTITIES` says the
 * rest: body key, deletion event, update event). Adding a family is a row here and one there, and a
 * test.
 *
 * - `get`: the entity by id (`GET /<family>/{id}`); absent where the SDK has none (features).
 * - `byIds`: a search by ids, for the batches of a backlog (one call for up to `MAX_BATCH` jobs);
 *   absent where the API has no ids filter (entitlements, credit notes: read one by one).
 * - `statuses`: the soft-delete statuses a search is asked for, one after the other: a list answers
 *   `published` unless asked, so a soft-deleted entity is found by a second search (`archived`).
 *   `[undefined]` where the search's `status` means something else (a wallet's own status).
 * - `page`: the reconciler's walk: `keyset` where the search filters on `updated_at` (sorted by
 *   it; it asks only for what changed since the watermark), otherwise every entity each run in
 *   order of creation (wallets, payments: an order an update does not move). Absent: not walked
 *   (credit notes have no list).
 */

/** What every SDK answer of an entity has in common (the SDK's camelCase; the raw JSON is kept apart). */
export interface ParsedEntity {
  id?: string | undefined;
}

export interface PageQuery {
  status: SoftDelete | undefined;
  /** Only entities updated after this time (RFC 3339), where the family's search can filter. */
  after: string;
  limit: number;
  offset: number;
}

export interface FamilyReader {
  get?: (sdk: Flexprice, id: string) => Promise<ParsedEntity>;
  byIds?: (
    sdk: Flexprice,
    ids: string[],
    status: SoftDelete | undefined,
  ) => Promise<{ items?: ParsedEntity[] | undefined }>;
  statuses: readonly (SoftDelete | undefined)[];
  page?: {
    keyset: boolean;
    /** The soft-delete statuses walked, one walk (and one watermark) each. */
    statuses: readonly (SoftDelete | undefined)[];
    call: (sdk: Flexprice, query: PageQuery) => Promise<{ items?: ParsedEntity[] | undefined }>;
  };
}

/** Flexprice's soft-delete statuses a list is asked for (`deleted` is not listed: see `status`). */
export type SoftDelete = 'published' | 'archived';

const SOFT_DELETE: readonly SoftDelete[] = ['published', 'archived'];

/** `updated_at` after a time, oldest first (then by creation): what a keyset page asks. */
const changedSince = (after: string): Pick<CustomerFilter, 'filters' | 'sort'> => ({
  filters: [{ field: 'updated_at', operator: 'after', dataType: 'date', value: { date: after } }],
  sort: [
    { field: 'updated_at', direction: 'asc' },
    { field: 'created_at', direction: 'asc' },
  ],
});

export const FAMILY_READERS: Record<ApiFamily, FamilyReader> = {
  customer: {
    get: (sdk, id) => sdk.customers.getCustomer(id),
    byIds: (sdk, ids, status) => sdk.customers.queryCustomer({ customerIds: ids, status, limit: ids.length }),
    statuses: SOFT_DELETE,
    page: {
      keyset: true,
      statuses: SOFT_DELETE,
      call: (sdk, q) =>
        sdk.customers.queryCustomer({
          status: q.status,
          ...changedSince(q.after),
          limit: q.limit,
          offset: q.offset,
        }),
    },
  },
  subscription: {
    get: (sdk, id) => sdk.subscriptions.getSubscription(id),
    byIds: (sdk, ids, status) =>
      sdk.subscriptions.querySubscription({ subscriptionIds: ids, status, limit: ids.length }),
    statuses: SOFT_DELETE,
    page: {
      keyset: true,
      statuses: SOFT_DELETE,
      call: (sdk, q) =>
        sdk.subscriptions.querySubscription({
          status: q.status,
          ...changedSince(q.after),
          limit: q.limit,
          offset: q.offset,
        }),
    },
  },
  invoice: {
    get: (sdk, id) => sdk.invoices.getInvoice(id),
    byIds: (sdk, ids, status) => sdk.invoices.queryInvoice({ invoiceIds: ids, status, limit: ids.length }),
    statuses: SOFT_DELETE,
    page: {
      keyset: true,
      statuses: SOFT_DELETE,
      call: (sdk, q) =>
        sdk.invoices.queryInvoice({
          status: q.status,
          ...changedSince(q.after),
          limit: q.limit,
          offset: q.offset,
        }),
    },
  },
  payment: {
    get: (sdk, id) => sdk.payments.getPayment(id),
    byIds: (sdk, ids, status) => sdk.payments.listPayments({ paymentIds: ids, status, limit: ids.length }),
    statuses: SOFT_DELETE,
    page: {
      keyset: false,
      statuses: SOFT_DELETE,
      call: (sdk, q) =>
        sdk.payments.listPayments({
          status: q.status,
          sort: 'created_at',
          order: 'asc',
          limit: q.limit,
          offset: q.offset,
        }),
    },
  },
  wallet: {
    get: (sdk, id) => sdk.wallets.getWallet(id),
    // The search's `status` is the wallet's own (active, frozen, closed): not asked.
    byIds: (sdk, ids) => sdk.wallets.queryWallet({ walletIds: ids, limit: ids.length }),
    statuses: [undefined],
    page: {
      keyset: false,
      statuses: [undefined],
      call: (sdk, q) => sdk.wallets.queryWallet({ sort: 'created_at', order: 'asc', limit: q.limit, offset: q.offset }),
    },
  },
  credit_note: {
    get: (sdk, id) => sdk.creditNotes.getCreditNote(id),
    statuses: [],
  },
  entitlement: {
    get: (sdk, id) => sdk.entitlements.getEntitlement(id),
    statuses: [],
    page: {
      keyset: true,
      statuses: SOFT_DELETE,
      call: (sdk, q) =>
        sdk.entitlements.queryEntitlement({
          status: q.status,
          ...changedSince(q.after),
          limit: q.limit,
          offset: q.offset,
        }),
    },
  },
  feature: {
    byIds: (sdk, ids, status) => sdk.features.queryFeature({ featureIds: ids, status, limit: ids.length }),
    statuses: SOFT_DELETE,
    page: {
      keyset: true,
      statuses: SOFT_DELETE,
      call: (sdk, q) =>
        sdk.features.queryFeature({
          status: q.status,
          ...changedSince(q.after),
          limit: q.limit,
          offset: q.offset,
        }),
    },
  },
};
