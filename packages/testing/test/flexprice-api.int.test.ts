import { Flexprice } from '@flexprice/sdk';
import { FlexPriceError, ResponseValidationError } from '@flexprice/sdk/sdk/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiFamily, type FlexpriceApiStandIn, startFlexpriceApiStandIn } from '../src/flexprice-api.js';

/**
 * Every family the stand-in serves, read through `@flexprice/sdk` as installed (its own response
 * validation included), and through a plain `fetch` for the bytes it sends. Should every read fail
 * with `expected: "nonoptional"`, the SDK got the workspace's zod (4.6.7), which rejects an absent
 * optional key: see the override in `pnpm-workspace.yaml` (checked: that is what happens).
 */

const KEY = 'stand-in-test-key-0123456789';

/** A list asked the same way of every family; each case turns it into its SDK call's filter. */
interface ListAsk {
  ids?: string[];
  status?: 'published' | 'archived';
  /** `updated_at` strictly after this (keyset paging), where the family takes generic filters. */
  after?: string;
  /** `updated_at` ascending unless told. */
  direction?: 'asc' | 'desc';
  limit?: number;
  offset?: number;
}

interface Read {
  id?: string | undefined;
  updatedAt?: string | undefined;
  metadata?: Record<string, string> | undefined;
}
interface Page {
  items?: Read[] | undefined;
  pagination?: { total?: number | undefined; limit?: number | undefined; offset?: number | undefined } | undefined;
}

interface FamilyCase {
  family: ApiFamily;
  /** The collection under /v1, for the plain reads. */
  path: string;
  get?: (sdk: Flexprice, id: string) => Promise<Read>;
  list?: (sdk: Flexprice, ask: ListAsk) => Promise<Page>;
  /** Entitlements have no ids filter of their own: each is marked with an entity of its own. */
  mark?: (id: string) => Record<string, unknown>;
  /** Takes `filters: updated_at after` (keyset paging); the others page by offset. */
  keyset: boolean;
  /** What Flexprice does with a soft-deleted one: a get serves it or answers 404; a list shows it
   *  when asked for `archived`, or never (wallets are listed published only). */
  archived: { get: 'served' | 'not_found'; list: 'when_asked' | 'never' };
  /** Optional fields the defaults leave out, for the fully populated entity. */
  full: Record<string, unknown>;
  /** The SDK's model has `metadata` (its entitlement has none, and drops it like any unknown field). */
  metadata: 'modelled' | 'dropped';
}

/** The generic part of a search filter: `updated_at` after a cursor, sorted on `updated_at`. */
const conditions = (ask: ListAsk) => ({
  filters:
    ask.after === undefined
      ? undefined
      : [{ field: 'updated_at', operator: 'after' as const, dataType: 'date' as const, value: { date: ask.after } }],
  sort: [{ field: 'updated_at', direction: ask.direction ?? ('asc' as const) }],
  limit: ask.limit,
  offset: ask.offset,
  status: ask.status,
});
/** The same for the lists that sort on one field with `order` (payments, wallets). */
const ordered = (ask: ListAsk) => ({
  sort: 'updated_at',
  order: ask.direction ?? ('asc' as const),
  limit: ask.limit,
  offset: ask.offset,
});
const LATER = '2026-09-15T00:00:00Z';

const CASES: FamilyCase[] = [
  {
    family: 'customer',
    path: 'customers',
    get: (sdk, id) => sdk.customers.getCustomer(id),
    list: (sdk, ask) => sdk.customers.queryCustomer({ customerIds: ask.ids, ...conditions(ask) }),
    keyset: true,
    archived: { get: 'served', list: 'when_asked' },
    full: { email: 'ada@example.com', address_city: 'London', address_country: 'GB' },
    metadata: 'modelled',
  },
  {
    family: 'subscription',
    path: 'subscriptions',
    get: (sdk, id) => sdk.subscriptions.getSubscription(id),
    list: (sdk, ask) =>
      sdk.subscriptions.querySubscription({
        subscriptionIds: ask.ids,
        ...conditions(ask),
      }),
    keyset: true,
    archived: { get: 'not_found', list: 'when_asked' },
    full: { end_date: LATER, cancel_at: LATER, lookup_key: 'acme-pro', trial_end: LATER },
    metadata: 'modelled',
  },
  {
    family: 'invoice',
    path: 'invoices',
    get: (sdk, id) => sdk.invoices.getInvoice(id),
    list: (sdk, ask) => sdk.invoices.queryInvoice({ invoiceIds: ask.ids, ...conditions(ask) }),
    keyset: true,
    archived: { get: 'served', list: 'when_asked' },
    full: { paid_at: LATER, invoice_pdf_url: 'https://example.com/inv.pdf' },
    metadata: 'modelled',
  },
  {
    family: 'payment',
    path: 'payments',
    get: (sdk, id) => sdk.payments.getPayment(id),
    list: (sdk, ask) => sdk.payments.listPayments({ paymentIds: ask.ids, ...ordered(ask), status: ask.status }),
    keyset: false,
    archived: { get: 'served', list: 'when_asked' },
    full: { payment_gateway: 'stripe', gateway_payment_id: 'pi_1', invoice_number: 'INV-1' },
    metadata: 'modelled',
  },
  {
    family: 'wallet',
    path: 'wallets',
    get: (sdk, id) => sdk.wallets.getWallet(id),
    // `status` here would be the wallet_status: the soft-delete status cannot be asked for.
    list: (sdk, ask) => sdk.wallets.queryWallet({ walletIds: ask.ids, ...ordered(ask) }),
    keyset: false,
    archived: { get: 'not_found', list: 'never' },
    full: { description: 'Credits for API calls' },
    metadata: 'modelled',
  },
  {
    family: 'credit_note',
    path: 'creditnotes',
    get: (sdk, id) => sdk.creditNotes.getCreditNote(id),
    keyset: false,
    archived: { get: 'served', list: 'never' },
    full: { memo: 'Goodwill', refund_status: 'SUCCEEDED' },
    metadata: 'modelled',
  },
  {
    family: 'entitlement',
    path: 'entitlements',
    get: (sdk, id) => sdk.entitlements.getEntitlement(id),
    list: (sdk, ask) =>
      sdk.entitlements.queryEntitlement({
        entityIds: ask.ids?.map((id) => `plan_of_${id}`),
        ...conditions(ask),
      }),
    mark: (id) => ({ entity_id: `plan_of_${id}` }),
    keyset: true,
    archived: { get: 'served', list: 'when_asked' },
    full: { static_value: 'gold' },
    metadata: 'dropped',
  },
  {
    family: 'feature',
    path: 'features',
    list: (sdk, ask) => sdk.features.queryFeature({ featureIds: ask.ids, ...conditions(ask) }),
    keyset: true,
    archived: { get: 'served', list: 'when_asked' },
    full: { description: 'API calls', meter_id: 'meter_1' },
    metadata: 'modelled',
  },
];

const METADATA = { crmId: 'crm-42', plan_hint: 'gold' };
/** A field no SDK model has: the SDK drops it, the raw answer must keep it. */
const UNMODELLED = { future_field: { tier: 'x', limits: [1, 2] } };

function sdkFor(api: FlexpriceApiStandIn, key = KEY): Flexprice {
  return new Flexprice({ serverURL: api.url, apiKeyAuth: key, retryConfig: { strategy: 'none' } });
}

/** The error an SDK call threw (and a failure of the test if it did not throw). */
async function failureOf(call: Promise<unknown>): Promise<FlexPriceError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FlexPriceError);
  return error as FlexPriceError;
}

const ids = (found: Page) => (found.items ?? []).map((item) => item.id);

describe.each(CASES)('the stand-in serves $family through the SDK', (c) => {
  let api: FlexpriceApiStandIn;
  let sdk: Flexprice;
  beforeAll(async () => {
    api = await startFlexpriceApiStandIn({ apiKey: KEY });
    sdk = sdkFor(api);
  });
  afterAll(() => api.close());
  const store = () => api.family(c.family);
  const upsert = (id: string, fields: Record<string, unknown> = {}) =>
    store().upsert({ id, ...c.mark?.(id), ...fields });
  /** One entity read through the SDK: by its get, or by a list of its id where there is none. */
  const readOne = async (id: string): Promise<Read | undefined> => {
    if (c.get) return c.get(sdk, id);
    return (await c.list?.(sdk, { ids: [id] }))?.items?.[0];
  };
  /** The raw answer for one entity, read by a plain fetch. */
  const rawOne = async (id: string): Promise<{ text: string; json: Record<string, unknown> }> => {
    const response = c.get
      ? await fetch(`${api.url}/${c.path}/${id}`, { headers: { 'x-api-key': KEY } })
      : await fetch(`${api.url}/${c.path}/search`, {
          method: 'POST',
          headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
          body: JSON.stringify({ [`${c.family}_ids`]: [id] }),
        });
    const text = await response.text();
    const json = JSON.parse(text) as { items?: Record<string, unknown>[] } & Record<string, unknown>;
    return { text, json: c.get ? json : (json.items?.[0] ?? {}) };
  };

  it('a fully populated entity, with metadata and a field the SDK does not model, passes the SDK; the raw answer keeps both', async () => {
    const id = `${c.family}_full`;
    upsert(id, { ...c.full, created_by: 'user_1', updated_by: 'user_2', metadata: METADATA, ...UNMODELLED });
    const read = await readOne(id);
    expect(read).toMatchObject({ id });
    if (c.metadata === 'modelled') expect(read?.metadata).toEqual(METADATA);
    else expect(read).not.toHaveProperty('metadata');
    expect(read?.updatedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
    expect(read).not.toHaveProperty('future_field');
    expect(read).not.toHaveProperty('futureField');
    if (c.list) expect(ids(await c.list(sdk, { ids: [id] }))).toEqual([id]);

    const { text, json } = await rawOne(id);
    expect(text).toContain('"metadata":{"crmId":"crm-42","plan_hint":"gold"}');
    expect(text).toContain('"future_field":{"tier":"x","limits":[1,2]}');
    expect(json).toEqual(store().served(id));
    expect(json).toMatchObject({ id, tenant_id: expect.any(String), environment_id: expect.any(String) });
  });

  it('a minimal entity, every empty field left out as omitempty does, passes the SDK', async () => {
    const id = `${c.family}_minimal`;
    const kept = new Set(['id', 'created_at']);
    const first = upsert(id);
    const blank = Object.fromEntries(Object.keys(first).map((key) => [key, kept.has(key) ? first[key] : undefined]));
    upsert(id, { ...blank, ...c.mark?.(id), description: '' });
    const { json } = await rawOne(id);
    expect(Object.keys(json).sort()).toEqual(
      ['created_at', 'updated_at', 'id', ...Object.keys(c.mark?.(id) ?? {})].sort(),
    );
    await expect(readOne(id)).resolves.toMatchObject({ id });
    if (c.list) expect(ids(await c.list(sdk, { ids: [id] }))).toEqual([id]);
  });

  it('a soft-deleted entity reads and lists as Flexprice answers it', async () => {
    const [kept, gone] = [`${c.family}_kept`, `${c.family}_gone`];
    upsert(kept);
    const before = upsert(gone);
    const archived = store().archive(gone);
    expect(archived?.status).toBe('archived');
    expect(archived && archived.updated_at > before.updated_at).toBe(true);
    if (c.get) {
      if (c.archived.get === 'served') await expect(c.get(sdk, gone)).resolves.toMatchObject({ id: gone });
      else expect((await failureOf(c.get(sdk, gone))).statusCode).toBe(404);
    }
    if (!c.list) return;
    expect(ids(await c.list(sdk, { ids: [kept] }))).toEqual([kept]);
    expect(ids(await c.list(sdk, { ids: [gone] }))).toEqual([]);
    const asked = ids(await c.list(sdk, { ids: [gone], status: 'archived' }));
    expect(asked).toEqual(c.archived.list === 'when_asked' ? [gone] : []);
  });

  it.runIf(c.list !== undefined)('pages by updated_at ascending: keyset where filters exist, else offset', async () => {
    const list = c.list;
    if (!list) return;
    const made = ['p1', 'p2', 'p3', 'p4', 'p5'].map((n) => upsert(`${c.family}_${n}`).id);
    const collected: string[] = [];
    let cursor: string | undefined;
    // Until a page comes back empty (bounded, so that a stand-in that never ends fails, not hangs).
    for (let offset = 0; offset < 100; offset += 2) {
      const found = await list(sdk, { ...(c.keyset ? { after: cursor } : { offset }), limit: 2 });
      if ((found.items ?? []).length === 0) break;
      expect(found.pagination).toMatchObject({ limit: 2, offset: c.keyset ? 0 : offset });
      collected.push(...ids(found).filter((id): id is string => id !== undefined));
      cursor = found.items?.at(-1)?.updatedAt;
    }
    // Earlier tests' entities are older: the five come last, in the order they were written.
    expect(collected.slice(-made.length)).toEqual(made);
    if (!c.keyset) return;
    const changed = upsert(made[1] ?? '');
    expect(ids(await list(sdk, { after: cursor }))).toEqual([changed.id]);
  });

  it('a removed entity is gone: a 404 through the SDK, and out of every list', async () => {
    const id = `${c.family}_removed`;
    upsert(id);
    expect(store().remove(id)).toBe(true);
    expect(store().get(id)).toBeUndefined();
    if (c.get) expect((await failureOf(c.get(sdk, id))).statusCode).toBe(404);
    if (c.list) expect(ids(await c.list(sdk, { ids: [id] }))).toEqual([]);
  });

  it('injected 429 with Retry-After and 503 reach the SDK as errors with those statuses', async () => {
    const id = `${c.family}_throttled`;
    upsert(id);
    api.failNext(1, { status: 429, headers: { 'retry-after': '3' }, path: `/v1/${c.path}` });
    const throttled = await failureOf(readOne(id));
    expect({ status: throttled.statusCode, retryAfter: throttled.headers.get('retry-after') }).toEqual({
      status: 429,
      retryAfter: '3',
    });
    api.failNext(1, { status: 503, path: `/v1/${c.path}` });
    expect((await failureOf(readOne(id))).statusCode).toBe(503);
    await expect(readOne(id)).resolves.toMatchObject({ id });
    expect(api.calls.slice(-3).map((call) => call.status)).toEqual([429, 503, 200]);
  });

  it.runIf(c.list !== undefined)('refuses a page over 1000 with a 400, as QueryFilter.Validate does', async () => {
    expect((await failureOf(c.list?.(sdk, { limit: 5000 }) ?? Promise.resolve())).statusCode).toBe(400);
  });
});

describe('the stand-in across families', () => {
  let api: FlexpriceApiStandIn;
  let sdk: Flexprice;
  beforeAll(async () => {
    api = await startFlexpriceApiStandIn({ apiKey: KEY });
    sdk = sdkFor(api);
  });
  afterAll(() => api.close());

  it('hands out updated_at strictly increasing across the whole stand-in', () => {
    const times = CASES.flatMap(({ family }) => [
      api.family(family).upsert({ id: 'x' }),
      api.family(family).upsert({ id: 'x' }),
    ]).map((entity) => entity.updated_at);
    expect(new Set(times).size).toBe(times.length);
    expect([...times].sort()).toEqual(times);
  });

  it('answers 401 to a wrong x-api-key, for every family', async () => {
    const wrong = sdkFor(api, 'wrong-key-0000');
    expect((await failureOf(wrong.invoices.getInvoice('inv_1'))).statusCode).toBe(401);
    expect((await failureOf(wrong.features.queryFeature({}))).statusCode).toBe(401);
    expect((await failureOf(wrong.payments.listPayments())).statusCode).toBe(401);
  });

  it('ends a subscription and an invoice by their status fields; lists filter on them', async () => {
    const subscriptions = api.family('subscription');
    const first = subscriptions.upsert({ id: 'subs_ending' });
    subscriptions.upsert({ id: 'subs_ending', subscription_status: 'cancelled', cancelled_at: '2026-08-20T00:00:00Z' });
    const read = await sdk.subscriptions.getSubscription('subs_ending');
    expect(read).toMatchObject({
      subscriptionStatus: 'cancelled',
      cancelledAt: '2026-08-20T00:00:00Z',
      status: 'published',
    });
    expect((read.updatedAt ?? '') > first.updated_at).toBe(true);
    const cancelled = await sdk.subscriptions.querySubscription({ subscriptionStatus: ['cancelled'] });
    expect(ids(cancelled)).toEqual(['subs_ending']);

    api.family('invoice').upsert({ id: 'inv_void', invoice_status: 'VOIDED', payment_status: 'FAILED' });
    api
      .family('invoice')
      .upsert({ id: 'inv_paid', payment_status: 'SUCCEEDED', amount_paid: '100', amount_remaining: '0' });
    expect(ids(await sdk.invoices.queryInvoice({ invoiceStatus: ['VOIDED'] }))).toEqual(['inv_void']);
    expect(ids(await sdk.invoices.queryInvoice({ paymentStatus: ['SUCCEEDED'] }))).toEqual(['inv_paid']);
    await expect(sdk.invoices.getInvoice('inv_void')).resolves.toMatchObject({
      invoiceStatus: 'VOIDED',
      status: 'published',
    });
  });

  it("filters wallets on wallet_status through the search's status, and never lists an archived one", async () => {
    const wallets = api.family('wallet');
    wallets.upsert({ id: 'wallet_active' });
    wallets.upsert({ id: 'wallet_frozen', wallet_status: 'frozen' });
    wallets.upsert({ id: 'wallet_archived' });
    wallets.archive('wallet_archived');
    expect(ids(await sdk.wallets.queryWallet({ status: 'frozen' }))).toEqual(['wallet_frozen']);
    const all = {
      walletIds: ['wallet_active', 'wallet_frozen', 'wallet_archived'],
      sort: 'created_at',
      order: 'asc' as const,
    };
    expect(ids(await sdk.wallets.queryWallet(all))).toEqual(['wallet_active', 'wallet_frozen']);
  });

  it('serves a payment without status (its DTO has none); a CUSTOMER destination fails the SDK 2.0.1 validation', async () => {
    api.family('payment').upsert({ id: 'pay_plain' });
    const raw = (await (
      await fetch(`${api.url}/payments/pay_plain`, { headers: { 'x-api-key': KEY } })
    ).json()) as object;
    expect(raw).not.toHaveProperty('status');
    expect(raw).toMatchObject({
      id: 'pay_plain',
      destination_type: 'INVOICE',
      payment_status: 'SUCCEEDED',
      amount: '100',
    });
    await expect(sdk.payments.getPayment('pay_plain')).resolves.toMatchObject({
      id: 'pay_plain',
      paymentStatus: 'SUCCEEDED',
    });
    // Flexprice has a CUSTOMER destination (card tokenization); the SDK's enum for it is closed.
    api.family('payment').upsert({ id: 'pay_auth', destination_type: 'CUSTOMER', destination_id: 'cust_1' });
    const refused = await failureOf(sdk.payments.getPayment('pay_auth'));
    expect(refused).toBeInstanceOf(ResponseValidationError);
    expect(refused.statusCode).toBe(200);
  });

  it('reads payment_ids as Gin does: repeated keys are a list, a comma-joined value (the SDK sends one) is one id', async () => {
    const payments = api.family('payment');
    payments.upsert({ id: 'pay_a' });
    payments.upsert({ id: 'pay_b' });
    expect(ids(await sdk.payments.listPayments({ paymentIds: ['pay_a'] }))).toEqual(['pay_a']);
    expect(ids(await sdk.payments.listPayments({ paymentIds: ['pay_a', 'pay_b'] }))).toEqual([]);
    expect(api.calls.at(-1)?.query).toMatchObject({ payment_ids: 'pay_a,pay_b' });
    const repeated = await fetch(`${api.url}/payments?payment_ids=pay_a&payment_ids=pay_b&sort=created_at&order=asc`, {
      headers: { 'x-api-key': KEY },
    });
    expect(ids((await repeated.json()) as Page)).toEqual(['pay_a', 'pay_b']);
  });
});

describe('the stand-in as the CLI runs it (createUnknown)', () => {
  it('creates an unknown entity on its first read, in every family, and the SDK accepts it', async () => {
    const api = await startFlexpriceApiStandIn({ apiKey: KEY, createUnknown: true });
    try {
      const sdk = sdkFor(api);
      for (const c of CASES) {
        const id = `${c.family}_demo`;
        if (c.get) await expect(c.get(sdk, id)).resolves.toMatchObject({ id });
        else expect(ids((await c.list?.(sdk, { ids: [id] })) ?? {})).toEqual([id]);
        expect(api.family(c.family).get(id)).toMatchObject({ id, status: 'published' });
      }
      expect(api.get('customer_demo')?.name).toBe('Demo customer customer_demo');
    } finally {
      await api.close();
    }
  });
});
