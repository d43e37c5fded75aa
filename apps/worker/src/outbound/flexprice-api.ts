import { redactUrlsIn } from '@flexprice/runtime';
import { Flexprice, HTTPClient } from '@flexprice/sdk';
import type { CustomerFilter, DtoCustomerResponse } from '@flexprice/sdk/sdk/models';
import { parseRetryAfter } from './forwarder.js';

/**
 * Flexprice's API, through the official client (`@flexprice/sdk`), for what the worker needs of it:
 * a customer by id, customers by a filter, and a cheap call that proves the key. The SDK's own
 * retries are off: a failed call fails the job, and BullMQ's backoff retries it (at least as late
 * as a `Retry-After` asked).
 */

/** - `unauthorized`: 401/403, the key is wrong: permanent, and loud.
 *  - `retryable`: timeouts, connection errors, 408/425/429, 5xx, answers the SDK could not read.
 *  - `refused`: other 4xx: this request will never succeed. */
export type ApiFailure = 'unauthorized' | 'retryable' | 'refused';

export class FlexpriceApiError extends Error {
  constructor(
    message: string,
    readonly failure: ApiFailure,
    readonly status?: number,
    /** What a 429's or 503's `Retry-After` asked for, in milliseconds. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'FlexpriceApiError';
  }
}

/** The outcome of one API call, for metrics. */
export type ApiResult = 'ok' | 'not_found' | 'unauthorized' | 'throttled' | 'server_error' | 'refused' | 'unreachable';

export interface FlexpriceApiOptions {
  url: string;
  key: string;
  timeoutMs: number;
  /** Counts each call by operation and result (Prometheus). */
  observe?: (operation: 'get_customer' | 'query_customers', result: ApiResult) => void;
  /** Called on every 401/403 (true) and every later success (false): readiness reports it. */
  onAuthorization?: (refused: boolean) => void;
  now?: () => number;
}

const RETRYABLE_STATUSES = new Set([408, 425, 429]);

function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

function headersOf(error: unknown): Headers | undefined {
  const headers = (error as { headers?: unknown } | null)?.headers;
  return headers instanceof Headers ? headers : undefined;
}

/**
 * Answers read whole before the SDK sees them. The SDK reads a body after its call has returned its
 * result, inside a promise nothing awaits: a connection dropped or timed out mid-body would reject
 * that promise unhandled, and Node ends the process. Read here, such a failure is a connection
 * error of the call itself, retried like any other.
 */
async function bufferedFetch(input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> {
  const response = await fetch(input, init);
  const body = await response.arrayBuffer();
  const empty = response.status === 204 || response.status === 304;
  return new Response(empty ? null : body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

/** How long an environment found without customers is taken as such. */
const EMPTY_ENVIRONMENT_MS = 60_000;

export function createFlexpriceApi(options: FlexpriceApiOptions) {
  const sdk = new Flexprice({
    serverURL: options.url,
    apiKeyAuth: options.key,
    timeoutMs: options.timeoutMs,
    retryConfig: { strategy: 'none' },
    httpClient: new HTTPClient({ fetcher: bufferedFetch }),
  });
  const now = options.now ?? Date.now;
  // The environments this key was seen to serve (every customer carries its environment_id).
  const environments = new Set<string>();
  const seen = (customer: DtoCustomerResponse | undefined) => {
    if (customer?.environmentId) environments.add(customer.environmentId);
    return customer;
  };

  /** Runs one SDK call and turns its failure into a FlexpriceApiError (or `undefined` on a 404). */
  async function call<T>(
    operation: 'get_customer' | 'query_customers',
    run: () => Promise<T>,
    { notFound }: { notFound: 'undefined' | 'error' },
  ): Promise<T | undefined> {
    try {
      const result = await run();
      options.observe?.(operation, 'ok');
      options.onAuthorization?.(false);
      return result;
    } catch (error) {
      const status = statusOf(error);
      // (The SDK's messages may quote the URL it called.)
      const detail = redactUrlsIn(error instanceof Error ? (error.message.split('\n', 1)[0] ?? '') : String(error));
      if (status === 404 && notFound === 'undefined') {
        options.observe?.(operation, 'not_found');
        options.onAuthorization?.(false);
        return undefined;
      }
      if (status === 401 || status === 403) {
        options.observe?.(operation, 'unauthorized');
        options.onAuthorization?.(true);
        throw new FlexpriceApiError(
          `Flexprice's API refused FLEXPRICE_API_KEY (${status}): set a valid API key of this environment`,
          'unauthorized',
          status,
        );
      }
      // A 2xx the SDK could not read (validation, content type) is a bad answer, not a refusal.
      if (status !== undefined && (status >= 500 || status < 400 || RETRYABLE_STATUSES.has(status))) {
        options.observe?.(operation, status === 429 ? 'throttled' : status < 400 ? 'unreachable' : 'server_error');
        const retryAfterMs = parseRetryAfter(headersOf(error)?.get('retry-after') ?? null, now());
        throw new FlexpriceApiError(
          `Flexprice's API answered ${status} to ${operation}`,
          'retryable',
          status,
          retryAfterMs,
        );
      }
      if (status !== undefined) {
        options.observe?.(operation, 'refused');
        throw new FlexpriceApiError(`Flexprice's API answered ${status} to ${operation}: ${detail}`, 'refused', status);
      }
      // No answer (timeout, connection), or one the SDK could not read.
      options.observe?.(operation, 'unreachable');
      throw new FlexpriceApiError(`Flexprice's API could not be read (${operation}): ${detail}`, 'retryable');
    }
  }

  let environmentCheck: Promise<void> | undefined;
  let emptyUntil = 0;

  /** One cheap call (`limit: 1`): throws a FlexpriceApiError when the key is refused. */
  async function checkKey(): Promise<void> {
    const page = await call('query_customers', () => sdk.customers.queryCustomer({ limit: 1 }), {
      notFound: 'error',
    });
    for (const customer of page?.items ?? []) seen(customer);
  }

  return {
    /** The customer, or undefined when Flexprice has no customer with that id (404). */
    async getCustomer(id: string): Promise<DtoCustomerResponse | undefined> {
      return seen(await call('get_customer', () => sdk.customers.getCustomer(id), { notFound: 'undefined' }));
    },

    /** One page of customers matching `filter` (`POST /customers/search`). */
    async queryCustomers(filter: CustomerFilter): Promise<{ items: DtoCustomerResponse[]; total: number }> {
      const page = await call('query_customers', () => sdk.customers.queryCustomer(filter), { notFound: 'error' });
      for (const customer of page?.items ?? []) seen(customer);
      return { items: page?.items ?? [], total: page?.pagination?.total ?? 0 };
    },

    checkKey,

    /**
     * Whether this key serves `environmentId`: true or false once the API has answered with a
     * customer of some environment. Before any has (a worker that just started), one customer of
     * the key's environment is read first (`checkKey`'s call: one at a time, however many ask;
     * an empty environment is asked again after a minute), and undefined when it has none. A
     * failure of that call is thrown, as any API failure (retryable, or a refused key).
     */
    async servesEnvironment(environmentId: string): Promise<boolean | undefined> {
      if (environments.size === 0 && now() >= emptyUntil) {
        environmentCheck ??= checkKey().finally(() => {
          environmentCheck = undefined;
        });
        await environmentCheck;
        if (environments.size === 0) emptyUntil = now() + EMPTY_ENVIRONMENT_MS;
      }
      return environments.size === 0 ? undefined : environments.has(environmentId);
    },
  };
}

export type FlexpriceApi = ReturnType<typeof createFlexpriceApi>;
