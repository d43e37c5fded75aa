import { AsyncLocalStorage } from 'node:async_hooks';
import type { ApiFamily } from '@flexprice/contracts';
import { redactUrlsIn } from '@flexprice/runtime';
import { Flexprice, HTTPClient } from '@flexprice/sdk';
import { FAMILY_READERS, type PageQuery, type ParsedEntity, type SoftDelete } from '../entities/families.js';
import { parseRetryAfter } from './forwarder.js';

/**
 * Flexprice's API, through the official client (`@flexprice/sdk`), for what the worker needs of it:
 * an entity of any API-backed family by id, by a batch of ids, a page of those changed since a time
 * (`entities/families.ts` says which SDK call does each), and a cheap call that proves the key.
 * The SDK's own retries are off: a failed call fails the job, and BullMQ's backoff retries it (at
 * least as late as a `Retry-After` asked).
 *
 * What is kept of an answer is the JSON Flexprice sent, not the SDK's object: the SDK renames
 * fields to camelCase one way only and drops those its version does not model, and `metadata` keys
 * are the user's own. The SDK still reads (and validates) every answer; the raw bytes are kept on
 * the way in (`bufferedFetch`, per call through an AsyncLocalStorage) and the decisions (id, status,
 * `updated_at`) are read from them too. An answer the SDK's models refuse although Flexprice sent
 * it with a 2xx (SDK 2.0.1 knows only `INVOICE` as a payment's `destination_type`, say) is taken
 * as the raw JSON, with a warning, when it holds what a decision needs.
 */

/** An entity as Flexprice's API sent it, and what the worker decides with. */
export interface ApiEntity {
  /** The entity's JSON, as sent (snake_case, every field, `metadata` as the user wrote it). */
  raw: Record<string, unknown>;
  id: string;
  /** `updated_at` as sent (RFC 3339); undefined when the answer has none. */
  updatedAt: string | undefined;
  /** The soft-delete status (`published`, `archived`, `deleted`), where the family has one. */
  status: string | undefined;
  environmentId: string | undefined;
}

/** The raw body of the answer a call is reading (set by `bufferedFetch`). */
const rawAnswers = new AsyncLocalStorage<{ body?: string }>();

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
  /** Counts each call by operation (`get_invoice`, `query_invoices`, …) and result (Prometheus). */
  observe?: (operation: string, result: ApiResult) => void;
  /** An answer the SDK refused but whose raw JSON was used (its models lag the API). */
  onLenientRead?: (operation: string, reason: string) => void;
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
  const holder = rawAnswers.getStore();
  if (holder) holder.body = Buffer.from(body).toString('utf8');
  const empty = response.status === 204 || response.status === 304;
  return new Response(empty ? null : body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

/** How long an environment found without entities is taken as such. */
const EMPTY_ENVIRONMENT_MS = 60_000;

/** The operation's name in metrics and messages: `get_invoice`, `query_invoices`. */
const operationOf = (kind: 'get' | 'query', family: ApiFamily) =>
  kind === 'get' ? `get_${family}` : `query_${family}s`;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const text = (value: unknown) => (typeof value === 'string' && value.length > 0 ? value : undefined);

/** The decisions of an entity, read from its JSON; undefined when it has no id. */
function entityOf(raw: unknown): ApiEntity | undefined {
  if (!isObject(raw)) return undefined;
  const id = text(raw.id);
  if (id === undefined) return undefined;
  return {
    raw,
    id,
    updatedAt: text(raw.updated_at),
    status: text(raw.status),
    environmentId: text(raw.environment_id),
  };
}

/** A 2xx whose JSON the SDK's models refused (its error has the status, but no result came). */
function isLenientCandidate(error: unknown): boolean {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' && status >= 200 && status < 300;
}

export function createFlexpriceApi(options: FlexpriceApiOptions) {
  const sdk = new Flexprice({
    serverURL: options.url,
    apiKeyAuth: options.key,
    timeoutMs: options.timeoutMs,
    retryConfig: { strategy: 'none' },
    httpClient: new HTTPClient({ fetcher: bufferedFetch }),
  });
  const now = options.now ?? Date.now;
  // The environments this key was seen to serve (most entities carry their environment_id).
  const environments = new Set<string>();
  const seen = (entity: ApiEntity | undefined) => {
    if (entity?.environmentId) environments.add(entity.environmentId);
    return entity;
  };

  /**
   * Runs one SDK call and returns the raw JSON of its answer (`undefined` on a 404 when asked so),
   * or throws a FlexpriceApiError.
   */
  async function call(
    operation: string,
    run: () => Promise<unknown>,
    { notFound }: { notFound: 'undefined' | 'error' },
  ): Promise<unknown> {
    const holder: { body?: string } = {};
    try {
      await rawAnswers.run(holder, run);
      options.observe?.(operation, 'ok');
      options.onAuthorization?.(false);
      return JSON.parse(holder.body ?? 'null');
    } catch (error) {
      const status = statusOf(error);
      // (The SDK's messages may quote the URL it called.)
      const detail = redactUrlsIn(error instanceof Error ? (error.message.split('\n', 1)[0] ?? '') : String(error));
      if (status === 404 && notFound === 'undefined') {
        options.observe?.(operation, 'not_found');
        options.onAuthorization?.(false);
        return undefined;
      }
      if (isLenientCandidate(error) && holder.body !== undefined) {
        const raw = (() => {
          try {
            return JSON.parse(holder.body ?? '') as unknown;
          } catch {
            return undefined;
          }
        })();
        if (entityOf(raw) !== undefined || (isObject(raw) && Array.isArray(raw.items))) {
          options.observe?.(operation, 'ok');
          options.onAuthorization?.(false);
          options.onLenientRead?.(operation, detail);
          return raw;
        }
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

  /**
   * An answer that is not what was asked for, with a 2xx (a proxy's page, an error envelope, `{}`):
   * a failure of the call, retried like any other. Taken for an entity or a list, it would read as
   * "not found", and a live entity would become a deletion.
   */
  function notAnAnswer(operation: string, what: string): FlexpriceApiError {
    options.observe?.(operation, 'unreachable');
    return new FlexpriceApiError(
      `Flexprice's API answered ${operation} with something that is not ${what}`,
      'retryable',
    );
  }

  /**
   * The entities of a list answer, in its order (items without an id are not entities). `status`:
   * the soft-delete status the list was asked for, which an entity whose JSON has no `status` of its
   * own (a payment's) takes: one listed only as archived is archived.
   */
  function itemsOf(operation: string, raw: unknown, status: SoftDelete | undefined): ApiEntity[] {
    if (!isObject(raw) || !Array.isArray(raw.items)) throw notAnAnswer(operation, 'a list');
    return raw.items
      .map(entityOf)
      .filter((entity): entity is ApiEntity => entity !== undefined)
      .map((entity) => seen({ ...entity, status: entity.status ?? status }) ?? entity);
  }

  let environmentCheck: Promise<void> | undefined;
  let emptyUntil = 0;

  /** One cheap call (`limit: 1`): throws a FlexpriceApiError when the key is refused. */
  async function checkKey(): Promise<void> {
    const operation = 'query_customers';
    itemsOf(
      operation,
      await call(operation, () => sdk.customers.queryCustomer({ limit: 1 }), { notFound: 'error' }),
      undefined,
    );
  }

  function reader(family: ApiFamily) {
    return FAMILY_READERS[family];
  }

  return {
    /** Whether the API can read this family by id, and search it by ids. */
    can: (family: ApiFamily) => ({
      get: reader(family).get !== undefined,
      byIds: reader(family).byIds !== undefined,
      /** The soft-delete statuses its search is asked for, one after the other. */
      statuses: reader(family).statuses,
    }),

    /** The entity, or undefined when Flexprice has none with that id (404). */
    async get(family: ApiFamily, id: string): Promise<ApiEntity | undefined> {
      const get = reader(family).get;
      if (!get) throw new Error(`Flexprice's API has no read by id of ${family}`);
      const operation = operationOf('get', family);
      const raw = await call(operation, () => get(sdk, id), { notFound: 'undefined' });
      if (raw === undefined) return undefined;
      const entity = entityOf(raw);
      if (entity === undefined) throw notAnAnswer(operation, `a ${family}`);
      return seen(entity);
    },

    /** The entities with these ids and that soft-delete status (a list answers `published` unless asked). */
    async byIds(family: ApiFamily, ids: string[], status: SoftDelete | undefined): Promise<ApiEntity[]> {
      const byIds = reader(family).byIds;
      if (!byIds) throw new Error(`Flexprice's API has no search by ids of ${family}`);
      const operation = operationOf('query', family);
      return itemsOf(operation, await call(operation, () => byIds(sdk, ids, status), { notFound: 'error' }), status);
    },

    /** One page of the reconciler's walk (`FamilyReader.page`). */
    async page(family: ApiFamily, query: PageQuery): Promise<ApiEntity[]> {
      const page = reader(family).page;
      if (!page) throw new Error(`Flexprice's API has no list of ${family}`);
      const operation = operationOf('query', family);
      return itemsOf(
        operation,
        await call(operation, () => page.call(sdk, query), { notFound: 'error' }),
        query.status,
      );
    },

    checkKey,

    /**
     * Whether this key serves `environmentId`: true or false once the API has answered with an
     * entity of some environment. Before any has (a worker that just started), one customer of
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

export type { ParsedEntity };
