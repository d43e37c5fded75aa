import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for Flexprice's API on loopback: the two customer endpoints the worker uses
 * (`GET /v1/customers/:id`, `POST /v1/customers/search`), answering as Flexprice's Go handlers do
 * (snake_case, empty fields left out, `omitempty`), with data and failures the test controls. Its
 * answers must pass `@flexprice/sdk`'s own response validation: if the SDK rejects one, the
 * stand-in is wrong. `pnpm start` can point at it for a local demo.
 */

/** A customer as the API returns it (`dto.CustomerResponse`): the legacy, full shape. */
export interface ApiCustomer {
  id: string;
  external_id: string;
  name: string;
  environment_id: string;
  tenant_id: string;
  status: 'published' | 'archived' | 'deleted';
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

export type CustomerInput = Pick<ApiCustomer, 'id'> & Partial<Omit<ApiCustomer, 'id'>>;

/** What the next requests answer instead of the real thing. */
export interface Failure {
  status: number;
  headers?: Record<string, string>;
  /** Only requests to this path prefix fail (`/v1/customers/search`, `/v1/customers/`). */
  path?: string;
  /** `drop`: the headers and half a body, then the connection closes; `stall`: no more after that. */
  midBody?: 'drop' | 'stall';
}

export interface ApiCall {
  method: string;
  path: string;
  body: unknown;
  status: number;
  /** When it arrived (ms). */
  at: number;
}

interface SearchBody {
  customer_ids?: string[];
  external_ids?: string[];
  status?: string;
  filters?: { field?: string; operator?: string; data_type?: string; value?: { date?: string } }[];
  sort?: { field?: string; direction?: string }[];
  limit?: number;
  offset?: number;
}

/** RFC 3339 with microseconds, as Go prints Postgres timestamps. */
function isoMicros(micros: bigint): string {
  const ms = Number(micros / 1000n);
  const date = new Date(ms).toISOString().slice(0, 19);
  return `${date}.${String(micros % 1_000_000n).padStart(6, '0')}Z`;
}

/** Comparable nanoseconds of an RFC 3339 time (any fraction). */
function nanos(value: string): bigint {
  const match = /^(.*?)(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(value);
  if (!match) return -1n;
  const [, base = '', fraction = '', zone = 'Z'] = match;
  const ms = Date.parse(`${base}${zone}`);
  if (Number.isNaN(ms)) return -1n;
  const seconds = BigInt(Math.floor(ms / 1000));
  return seconds * 1_000_000_000n + BigInt(fraction.slice(0, 9).padEnd(9, '0'));
}

/** Go's `omitempty`: empty strings and empty maps are not sent. */
function omitEmpty(customer: ApiCustomer): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(customer).filter(
      ([, value]) =>
        value !== '' && value !== undefined && !(typeof value === 'object' && Object.keys(value).length === 0),
    ),
  );
}

export interface StandInOptions {
  apiKey: string;
  environmentId?: string;
  /** Loopback port; 0 (default) picks a free one. */
  port?: number;
  /** Local demos: a customer asked for by id and unknown is created on the spot. */
  createUnknown?: boolean;
}

export async function startFlexpriceApiStandIn(options: StandInOptions) {
  const customers = new Map<string, ApiCustomer>();
  const calls: ApiCall[] = [];
  const failures: (Failure & { remaining: number })[] = [];
  let delayMs = 0;
  let clock = 0n;
  const tick = () => {
    const now = BigInt(Date.now()) * 1000n;
    clock = now > clock ? now : clock + 1n;
    return isoMicros(clock);
  };

  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
    const json = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(json);
  }

  function errorBody(message: string, code: string) {
    return { success: false, error: { message, internal_error: code } };
  }

  function search(body: SearchBody): { status: number; body: unknown } {
    const limit = body.limit ?? 50;
    if (limit > 1000) return { status: 400, body: errorBody('limit must be at most 1000', 'validation') };
    let found = [...customers.values()].filter((c) => c.status === (body.status ?? 'published'));
    if (body.customer_ids) found = found.filter((c) => body.customer_ids?.includes(c.id));
    if (body.external_ids) found = found.filter((c) => body.external_ids?.includes(c.external_id));
    for (const filter of body.filters ?? []) {
      if (filter.field !== 'updated_at' || filter.value?.date === undefined) continue;
      const at = nanos(filter.value.date);
      if (filter.operator === 'after') found = found.filter((c) => nanos(c.updated_at) > at);
      if (filter.operator === 'before') found = found.filter((c) => nanos(c.updated_at) < at);
    }
    const sorts = body.sort ?? [{ field: 'created_at', direction: 'desc' }];
    found.sort((a, b) => {
      for (const { field = 'created_at', direction = 'asc' } of sorts) {
        const key = field as keyof ApiCustomer;
        const [x, y] = [String(a[key] ?? ''), String(b[key] ?? '')];
        const order = field.endsWith('_at') ? Number(nanos(x) - nanos(y)) : x < y ? -1 : x > y ? 1 : 0;
        if (order !== 0) return direction === 'desc' ? -order : order;
      }
      return 0;
    });
    const offset = body.offset ?? 0;
    return {
      status: 200,
      body: {
        items: found.slice(offset, offset + limit).map(omitEmpty),
        pagination: { total: found.length, limit, offset },
      },
    };
  }

  async function handle(req: IncomingMessage, res: ServerResponse, raw: string) {
    const path = (req.url ?? '').split('?', 1)[0] ?? '';
    let body: unknown = null;
    try {
      body = raw.length > 0 ? JSON.parse(raw) : null;
    } catch {
      body = raw;
    }
    const answer = (status: number, payload: unknown, headers?: Record<string, string>) => {
      calls.push({ method: req.method ?? '', path, body, status, at: Date.now() });
      if (delayMs > 0) setTimeout(() => send(res, status, payload, headers), delayMs);
      else send(res, status, payload, headers);
    };
    if (req.headers['x-api-key'] !== options.apiKey) {
      return answer(401, errorBody('missing or invalid api key', 'unauthorized'));
    }
    const failure = failures.find((f) => f.remaining > 0 && (f.path === undefined || path.startsWith(f.path)));
    if (failure) {
      failure.remaining -= 1;
      if (failure.midBody) {
        calls.push({ method: req.method ?? '', path, body, status: failure.status, at: Date.now() });
        res.writeHead(failure.status, { 'content-type': 'application/json', 'content-length': '1000' });
        res.write('{"id":"cust_');
        if (failure.midBody === 'drop') setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      return answer(failure.status, errorBody('injected failure', 'injected'), failure.headers);
    }
    if (req.method === 'POST' && path === '/v1/customers/search') {
      const { status, body: payload } = search((body ?? {}) as SearchBody);
      return answer(status, payload);
    }
    const match = /^\/v1\/customers\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && match) {
      const id = decodeURIComponent(match[1] ?? '');
      const customer =
        customers.get(id) ?? (options.createUnknown ? upsert({ id, name: `Demo customer ${id}` }) : undefined);
      if (!customer) return answer(404, errorBody('customer not found', 'not_found'));
      return answer(200, omitEmpty(customer));
    }
    answer(404, errorBody('no such route', 'not_found'));
  }

  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk) => {
      raw += chunk;
    });
    req.on('end', () => void handle(req, res, raw));
  });
  /** Creates or changes a customer; its `updated_at` moves to now (µs, strictly increasing). */
  function upsert(input: CustomerInput): ApiCustomer {
    const previous = customers.get(input.id);
    const now = tick();
    const customer: ApiCustomer = {
      external_id: `ext-${input.id}`,
      name: input.id,
      environment_id: options.environmentId ?? 'env_01STANDIN0000000000000000',
      tenant_id: 'tenant_01STANDIN000000000000000',
      status: 'published',
      created_at: previous?.created_at ?? now,
      ...previous,
      ...input,
      updated_at: input.updated_at ?? now,
    };
    customers.set(customer.id, customer);
    return customer;
  }

  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  return {
    /** The SDK's server URL (`/v1` included), as FLEXPRICE_API_URL takes it. */
    url: `http://127.0.0.1:${port}/v1`,
    calls,
    /** Creates or changes a customer; its `updated_at` moves to now (µs, strictly increasing). */
    upsert,
    /** Deletes as Flexprice does: a soft delete to `archived`, `updated_at` moved. */
    archive(id: string): ApiCustomer | undefined {
      const customer = customers.get(id);
      if (!customer) return undefined;
      const archived: ApiCustomer = { ...customer, status: 'archived', updated_at: tick() };
      customers.set(id, archived);
      return archived;
    },
    get: (id: string) => customers.get(id),
    all: () => [...customers.values()],
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
