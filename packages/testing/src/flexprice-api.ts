import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApiCustomer, ApiEntities } from './flexprice-api/entities.js';
import { API_FAMILIES, type ApiFamily, FAMILY_SPECS } from './flexprice-api/families.js';
import { listPage, readListRequest } from './flexprice-api/list.js';
import { createFamilyStore, type EntityInput, type FamilyStore, type ServedStore } from './flexprice-api/store.js';
import { createClock } from './flexprice-api/wire.js';

/**
 * A stand-in for Flexprice's API on loopback, for every family the worker reads, answering as
 * Flexprice's Go handlers do (snake_case, empty fields left out as `omitempty` does), with data and
 * failures the test controls. Its answers must pass `@flexprice/sdk`'s own response validation
 * (`flexprice-api.int.test.ts` reads every family through the SDK): if the SDK rejects one, the
 * stand-in is wrong. `pnpm flexprice-api-stand-in` runs it for a local demo.
 *
 * What it serves (paths under the SDK's server URL, `…/v1`), per family:
 *   customer      GET /customers/{id}       POST /customers/search      customer_ids, external_ids, filters, sort
 *   subscription  GET /subscriptions/{id}   POST /subscriptions/search  subscription_ids, subscription_status, filters, sort
 *   invoice       GET /invoices/{id}        POST /invoices/search       invoice_ids, invoice_status, payment_status, filters, sort
 *   payment       GET /payments/{id}        GET  /payments?…            payment_ids, payment_status, destination_id, sort+order
 *   wallet        GET /wallets/{id}         POST /wallets/search        wallet_ids, status (= wallet_status), sort+order
 *   credit_note   GET /creditnotes/{id}     —
 *   entitlement   GET /entitlements/{id}    POST /entitlements/search   entity_ids, feature_ids, filters, sort
 *   feature       —                         POST /features/search       feature_ids, lookup_keys, filters, sort
 * Every list honours `status` (`published` unless asked: soft-deleted entities only when asked),
 * `limit` (1–1000, else 400; 50 by default) and `offset`, sorts `created_at` desc unless told, and
 * answers `{items, pagination: {total, limit, offset}}`. `filters` take `updated_at`/`created_at`
 * with `after`/`before` (keyset paging); other conditions are ignored. A soft-deleted subscription
 * or wallet reads as 404 (their repositories read only published rows); the others read archived.
 * A payment's `status` is held (the list filters on it) but not served: its DTO has none.
 *
 * Use: `api.family('invoice')` is that family's store (`upsert`, `archive`, `remove`, `get`, `all`,
 * `served`; see `FamilyStore`). `upsert` merges the test's fields over the last ones over the
 * family's defaults (the Go DTO's wire names, `FAMILY_SPECS`); any field may be added (`metadata`,
 * fields the SDK does not model) and is served exactly as given. A status change is an upsert
 * (`{ id, subscription_status: 'cancelled' }`). `upsert`, `archive`, `get` and `all` on `api`
 * itself are the customers', as before. Failures: `failNext` for any path, and a 401 for a wrong
 * `x-api-key`. `calls` logs every request.
 */

export type {
  ApiCreditNote,
  ApiCustomer,
  ApiEntities,
  ApiEntitlement,
  ApiFeature,
  ApiInvoice,
  ApiPayment,
  ApiSubscription,
  ApiWallet,
  EntityStatus,
} from './flexprice-api/entities.js';
export { API_FAMILIES, type ApiFamily } from './flexprice-api/families.js';
export type { EntityInput, FamilyStore, Held } from './flexprice-api/store.js';

export type CustomerInput = EntityInput<ApiCustomer>;

/** What the next requests answer instead of the real thing. */
export interface Failure {
  status: number;
  headers?: Record<string, string>;
  /** Only requests to this path prefix fail (`/v1/customers/search`, `/v1/invoices/`). */
  path?: string;
  /** `drop`: the headers and half a body, then the connection closes; `stall`: no more after that. */
  midBody?: 'drop' | 'stall';
  /** Only requests whose JSON body passes this fail (a search with no ids, say). */
  body?: (body: unknown) => boolean;
}

export interface ApiCall {
  method: string;
  path: string;
  /** The query string of a GET list (`/v1/payments?…`): one value per key, or a list if repeated. */
  query?: Record<string, string | string[]>;
  body: unknown;
  status: number;
  /** When it arrived (ms). */
  at: number;
}

export interface StandInOptions {
  apiKey: string;
  environmentId?: string;
  /** Loopback port; 0 (default) picks a free one. */
  port?: number;
  /** Local demos: an entity asked for by id (a get, or a list's ids) and unknown is created on the spot. */
  createUnknown?: boolean;
}

type Route = { family: ApiFamily; kind: 'get'; id: string } | { family: ApiFamily; kind: 'list' };

/** Which family and call a request is, from the catalog's paths. */
function routeOf(method: string, path: string): Route | undefined {
  for (const family of API_FAMILIES) {
    const { path: collection, get, search } = FAMILY_SPECS[family];
    const base = `/v1/${collection}`;
    if (search?.transport === 'body' && method === 'POST' && path === `${base}/search`) return { family, kind: 'list' };
    if (search?.transport === 'query' && method === 'GET' && path === base) return { family, kind: 'list' };
    const id = path.startsWith(`${base}/`) ? path.slice(base.length + 1) : '';
    if (get && method === 'GET' && id !== '' && !id.includes('/')) return { family, kind: 'get', id };
  }
  return undefined;
}

function queryOf(url: URL): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const key of new Set(url.searchParams.keys())) {
    const values = url.searchParams.getAll(key);
    query[key] = values.length === 1 ? (values[0] ?? '') : values;
  }
  return query;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

/** Flexprice's error body (`ierr` through its error middleware). */
function errorBody(message: string, code: string) {
  return { success: false, error: { message, internal_error: code } };
}

export async function startFlexpriceApiStandIn(options: StandInOptions) {
  const env = {
    environmentId: options.environmentId ?? 'env_01STANDIN0000000000000000',
    tenantId: 'tenant_01STANDIN000000000000000',
  };
  const tick = createClock();
  const store = <F extends ApiFamily>(family: F) => createFamilyStore(FAMILY_SPECS[family], env, tick);
  const stores: { readonly [F in ApiFamily]: ServedStore<ApiEntities[F]> } = {
    customer: store('customer'),
    subscription: store('subscription'),
    invoice: store('invoice'),
    payment: store('payment'),
    wallet: store('wallet'),
    credit_note: store('credit_note'),
    entitlement: store('entitlement'),
    feature: store('feature'),
  };
  const calls: ApiCall[] = [];
  const failures: (Failure & { remaining: number })[] = [];
  let delayMs = 0;

  /** The entity, or (the CLI's demo) a new one with the family's defaults when unknown. */
  const known = (family: ApiFamily, id: string) =>
    options.createUnknown ? stores[family].ensure(id) : stores[family].get(id);

  function read(family: ApiFamily, id: string): { status: number; body: unknown } {
    const entity = known(family, id);
    const published = (entity?.status ?? 'published') === 'published';
    const archivedIsGone = FAMILY_SPECS[family].get?.archived === 'not_found' && !published;
    if (!entity || archivedIsGone) return { status: 404, body: errorBody(`${family} not found`, 'not_found') };
    return { status: 200, body: stores[family].served(id) };
  }

  function list(family: ApiFamily, input: unknown): { status: number; body: unknown } {
    const spec = FAMILY_SPECS[family].search;
    if (!spec || typeof input !== 'object' || input === null || Array.isArray(input)) {
      return { status: 400, body: errorBody('invalid request body', 'validation') };
    }
    const parsed = readListRequest(spec, input as Record<string, unknown>);
    if (!parsed.ok) return { status: 400, body: errorBody(parsed.message, 'validation') };
    const { request } = parsed;
    for (const id of request.ids ?? []) known(family, id);
    const store: FamilyStore<ApiEntities[ApiFamily]> = stores[family];
    const { items, total } = listPage(store.all(), spec, request);
    return {
      status: 200,
      body: {
        items: items.map((entity) => store.served(entity.id)),
        pagination: { total, limit: request.limit, offset: request.offset },
      },
    };
  }

  function handle(req: IncomingMessage, res: ServerResponse, raw: string) {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const { pathname: path } = url;
    const method = req.method ?? '';
    const query = url.search === '' ? undefined : queryOf(url);
    let body: unknown = null;
    try {
      body = raw.length > 0 ? JSON.parse(raw) : null;
    } catch {
      body = raw;
    }
    const log = (status: number) => calls.push({ method, path, ...(query && { query }), body, status, at: Date.now() });
    const answer = (status: number, payload: unknown, headers?: Record<string, string>) => {
      log(status);
      if (delayMs > 0) setTimeout(() => send(res, status, payload, headers), delayMs);
      else send(res, status, payload, headers);
    };
    if (req.headers['x-api-key'] !== options.apiKey) {
      return answer(401, errorBody('missing or invalid api key', 'unauthorized'));
    }
    const failure = failures.find(
      (f) =>
        f.remaining > 0 && (f.path === undefined || path.startsWith(f.path)) && (f.body === undefined || f.body(body)),
    );
    if (failure) {
      failure.remaining -= 1;
      if (failure.midBody) {
        log(failure.status);
        res.writeHead(failure.status, { 'content-type': 'application/json', 'content-length': '1000' });
        res.write('{"id":"cust_');
        if (failure.midBody === 'drop') setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      return answer(failure.status, errorBody('injected failure', 'injected'), failure.headers);
    }
    const route = routeOf(method, path);
    if (!route) return answer(404, errorBody('no such route', 'not_found'));
    if (route.kind === 'list') {
      const { status, body: payload } = list(
        route.family,
        FAMILY_SPECS[route.family].search?.transport === 'query' ? (query ?? {}) : (body ?? {}),
      );
      return answer(status, payload);
    }
    let id: string;
    try {
      id = decodeURIComponent(route.id);
    } catch {
      return answer(400, errorBody('malformed id', 'validation'));
    }
    const { status, body: payload } = read(route.family, id);
    answer(status, payload);
  }

  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk) => {
      raw += chunk;
    });
    req.on('end', () => handle(req, res, raw));
  });
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const customers = stores.customer;

  return {
    /** The SDK's server URL (`/v1` included), as FLEXPRICE_API_URL takes it. */
    url: `http://127.0.0.1:${port}/v1`,
    calls,
    /** One family's entities: upsert, archive, remove, read back. */
    family<F extends ApiFamily>(family: F): FamilyStore<ApiEntities[F]> {
      return stores[family];
    },
    /** Creates or changes a customer; its `updated_at` moves to now (µs, strictly increasing). */
    upsert: customers.upsert,
    /** Deletes a customer as Flexprice does: a soft delete to `archived`, `updated_at` moved. */
    archive: customers.archive,
    get: customers.get,
    all: customers.all,
    /** The next `count` requests (to `path`, when given) answer `status` instead. */
    failNext(count: number, failure: Failure): void {
      failures.push({ ...failure, remaining: count });
    },
    setDelay(ms: number): void {
      delayMs = ms;
    },
    async close(): Promise<void> {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export type FlexpriceApiStandIn = Awaited<ReturnType<typeof startFlexpriceApiStandIn>>;
