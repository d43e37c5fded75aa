import type { SearchSpec } from './families.js';
import { nanos } from './wire.js';

/** A family's search or list, read from its JSON filter or its query string. */
export interface ListRequest {
  ids?: string[];
  status?: string;
  match: { field: string; values: string[] }[];
  filters: { field: string; operator: 'after' | 'before'; at: bigint }[];
  sort: { field: string; direction: string }[];
  limit: number;
  offset: number;
}

export type ReadList = { ok: true; request: ListRequest } | { ok: false; message: string };

/** Flexprice's `QueryFilter` default page. */
const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 1000;

/** A value as a list of strings: a JSON list, or one query value or a repeated one. Never split on
 *  commas: Gin binds `payment_ids=a,b` as the one id `a,b` (its default `collection_format` is
 *  `multi`, repeated keys), and so does the stand-in. */
function strings(value: unknown): string[] | undefined {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string');
  return undefined;
}

/** An integer from JSON or from a query string; NaN when it is something else. */
function integer(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') return Number.isInteger(value) ? value : Number.NaN;
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return Number(value);
  return Number.NaN;
}

interface FilterCondition {
  field?: unknown;
  operator?: unknown;
  value?: { date?: unknown };
}

/** `updated_at`/`created_at` after/before; other conditions are ignored, as the stand-in always has. */
function timeFilters(value: unknown): ListRequest['filters'] {
  if (!Array.isArray(value)) return [];
  return (value as FilterCondition[]).flatMap(({ field, operator, value: operand }) => {
    const date = operand?.date;
    if (typeof field !== 'string' || !field.endsWith('_at') || typeof date !== 'string') return [];
    if (operator !== 'after' && operator !== 'before') return [];
    return [{ field, operator, at: nanos(date) }];
  });
}

function sortOf(spec: SearchSpec, input: Readonly<Record<string, unknown>>): ListRequest['sort'] {
  if (spec.sort === 'field') {
    const field = typeof input.sort === 'string' ? input.sort : 'created_at';
    return [{ field, direction: typeof input.order === 'string' ? input.order : 'desc' }];
  }
  if (!Array.isArray(input.sort)) return [{ field: 'created_at', direction: 'desc' }];
  return (input.sort as { field?: unknown; direction?: unknown }[]).map(({ field, direction }) => ({
    field: typeof field === 'string' ? field : 'created_at',
    direction: typeof direction === 'string' ? direction : 'asc',
  }));
}

/** Reads a list request, refusing what Flexprice's `QueryFilter.Validate` refuses (a 400). */
export function readListRequest(spec: SearchSpec, input: Readonly<Record<string, unknown>>): ReadList {
  const limit = integer(input.limit) ?? DEFAULT_LIMIT;
  const offset = integer(input.offset) ?? 0;
  if (!(limit >= 1 && limit <= MAX_LIMIT)) return { ok: false, message: 'limit must be between 1 and 1000' };
  if (!(offset >= 0)) return { ok: false, message: 'offset must be non-negative' };
  const sort = sortOf(spec, input);
  if (sort.some(({ direction }) => direction !== 'asc' && direction !== 'desc')) {
    return { ok: false, message: "order must be either 'asc' or 'desc'" };
  }
  const match = Object.entries(spec.match).flatMap(([key, field]) => {
    const values = strings(input[key]);
    return values ? [{ field, values }] : [];
  });
  const ids = spec.ids === undefined ? undefined : strings(input[spec.ids]);
  const status = typeof input.status === 'string' ? input.status : undefined;
  return {
    ok: true,
    request: {
      ...(ids && { ids }),
      ...(status !== undefined && { status }),
      match,
      filters: spec.filters ? timeFilters(input.filters) : [],
      sort,
      limit,
      offset,
    },
  };
}

const text = (entity: Readonly<Record<string, unknown>>, field: string) => String(entity[field] ?? '');

function compare(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>, field: string): number {
  const [x, y] = [text(a, field), text(b, field)];
  if (field.endsWith('_at')) return Number(nanos(x) - nanos(y));
  return x < y ? -1 : x > y ? 1 : 0;
}

/** One page of a list, and how many entities the whole list holds. */
export function listPage<E extends Readonly<Record<string, unknown>>>(
  entities: readonly E[],
  spec: SearchSpec,
  request: ListRequest,
): { items: E[]; total: number } {
  const statusOf = (entity: E) => (entity.status as string | undefined) ?? 'published';
  let found =
    spec.status === 'status'
      ? entities.filter((e) => statusOf(e) === (request.status ?? 'published'))
      : entities.filter(
          (e) => statusOf(e) === 'published' && (request.status === undefined || e.wallet_status === request.status),
        );
  const { ids } = request;
  if (ids) found = found.filter((e) => ids.includes(text(e, 'id')));
  for (const { field, values } of request.match) found = found.filter((e) => values.includes(text(e, field)));
  for (const { field, operator, at } of request.filters) {
    found = found.filter((e) => (operator === 'after' ? nanos(text(e, field)) > at : nanos(text(e, field)) < at));
  }
  found.sort((a, b) => {
    for (const { field, direction } of request.sort) {
      const order = compare(a, b, field);
      if (order !== 0) return direction === 'desc' ? -order : order;
    }
    return 0;
  });
  return { items: found.slice(request.offset, request.offset + request.limit), total: found.length };
}
