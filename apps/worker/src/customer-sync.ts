import { keySafe, timestampNanos } from '@flexprice/contracts';
import type { RedisClient } from '@flexprice/runtime';
import type { DtoCustomerResponse } from '@flexprice/sdk/sdk/models';
import type { Logger } from 'pino';
import { stateFromApi } from './customer-api-state.js';
import type { CustomerStore } from './customer-store.js';
import type { FlexpriceApi } from './flexprice-api.js';
import { createCustomerApplier } from './handlers/customer.js';

/**
 * The reconciler: reads every customer Flexprice changed since the last run and applies each through
 * the same versioned path as the jobs (store, index, tombstone, forward), so a webhook Flexprice
 * never delivered (receiver down past its retries, a payload it failed to build) is healed, and
 * nothing it applies can take a customer back to an older state.
 *
 * Paging is by keyset on `updated_at` (the search ignores start_time / end_time, so the filter is
 * `updated_at` after the watermark): each page asks for customers updated at or after the last
 * `updated_at` seen, skipping those already read at exactly that time, so a customer updated while
 * the sync runs moves ahead and is read again rather than skipped (re-reads are harmless). Live
 * customers and archived (deleted) ones are two walks, each with its watermark in Redis, saved
 * after every page: a run cut off by a crash resumes there.
 */

export interface SyncSummary {
  seen: number;
  /** States stored (newer than the store's). */
  applied: number;
  /** Already stored, or older than what is stored. */
  unchanged: number;
  forwarded: number;
}

export interface SyncOptions {
  api: FlexpriceApi;
  /** What the jobs apply with (store, forward, lock waits); the reconciler counts what it stores. */
  applier: Parameters<typeof createCustomerApplier>[0];
  store: CustomerStore;
  redis: RedisClient;
  /** The store's prefix: the watermarks live under it. */
  prefix: string;
  log: Logger;
  /** Start here (RFC 3339) instead of the watermarks. */
  since?: string | undefined;
  /** Read and compare; store, forward and move no watermark. */
  dryRun?: boolean;
  pageSize?: number;
  onPage?: (progress: SyncSummary & { status: string; watermark: string }) => void;
}

const EPOCH = '1970-01-01T00:00:00Z';
const STATUSES = ['published', 'archived'] as const;

/** An RFC 3339 time one microsecond earlier (the search's `after` is strict). */
function microBefore(value: string): string {
  const nanos = BigInt(timestampNanos(value) ?? '0') - 1000n;
  if (nanos < 0n) return EPOCH;
  const seconds = nanos / 1_000_000_000n;
  const fraction = String(nanos % 1_000_000_000n).padStart(9, '0');
  return `${new Date(Number(seconds) * 1000).toISOString().slice(0, 19)}.${fraction}Z`;
}

const sameTime = (a: string | undefined, b: string) => a !== undefined && timestampNanos(a) === timestampNanos(b);

export async function syncCustomers(options: SyncOptions): Promise<SyncSummary> {
  const { api, store, redis, log } = options;
  const pageSize = options.pageSize ?? 500;
  const summary: SyncSummary = { seen: 0, applied: 0, unchanged: 0, forwarded: 0 };
  const applyState = createCustomerApplier({
    ...options.applier,
    onApplied: (source) => {
      summary.applied += 1;
      options.applier.onApplied?.(source);
    },
  });
  const watermarkKey = (status: string) => `${options.prefix}:sync:watermark:${status}`;

  async function wouldApply(customer: DtoCustomerResponse): Promise<boolean> {
    const state = stateFromApi(customer, 'customer.updated', 'sync');
    const stored = await store.get(customer.id ?? '');
    if (!stored) return true;
    if (stored.deleted) return false;
    return state.version > stored.version || !stored.version.endsWith('.api');
  }

  for (const status of STATUSES) {
    let watermark = options.since ?? (await redis.get(watermarkKey(status))) ?? EPOCH;
    if (timestampNanos(watermark) === undefined) throw new Error(`not an RFC 3339 time: ${watermark}`);
    let readAtWatermark = 0;
    for (;;) {
      const { items } = await api.queryCustomers({
        status,
        filters: [
          { field: 'updated_at', operator: 'after', dataType: 'date', value: { date: microBefore(watermark) } },
        ],
        sort: [
          { field: 'updated_at', direction: 'asc' },
          { field: 'id', direction: 'asc' },
        ],
        limit: pageSize,
        offset: readAtWatermark,
      });
      for (const customer of items) {
        summary.seen += 1;
        if (options.dryRun) {
          if (await wouldApply(customer)) summary.applied += 1;
          else summary.unchanged += 1;
          continue;
        }
        const state = stateFromApi(customer, 'customer.updated', 'sync');
        const nanos = state.version.split('.')[1] ?? '';
        const applied = summary.applied;
        const result = await applyState(state, {
          idempotencyKey: `sync-${keySafe(customer.id ?? '')}-${nanos}`,
          requestId: `sync-${nanos}`,
          log,
          stepAside: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
        });
        if (summary.applied === applied) summary.unchanged += 1;
        if (result.forwarded === 'sent') summary.forwarded += 1;
      }
      const last = items.at(-1)?.updatedAt;
      if (last !== undefined) {
        const atLast = items.filter((customer) => sameTime(customer.updatedAt, last)).length;
        readAtWatermark = sameTime(watermark, last) ? readAtWatermark + atLast : atLast;
        watermark = last;
        if (!options.dryRun) await redis.set(watermarkKey(status), watermark);
      }
      options.onPage?.({ ...summary, status, watermark });
      if (items.length < pageSize) break;
    }
  }
  return summary;
}
