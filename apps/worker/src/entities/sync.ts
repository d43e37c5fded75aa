import { API_TIE_BREAK, keySafe, timestampNanos } from '@flexprice/contracts';
import type { RedisClient } from '@flexprice/runtime';
import type { DtoCustomerResponse } from '@flexprice/sdk/sdk/models';
import type { Logger } from 'pino';
import { createCustomerApplier } from '../handlers/customer.js';
import type { FlexpriceApi } from '../outbound/flexprice-api.js';
import { RefusedForwardError } from '../outbound/forwarder.js';
import { stateFromApi } from './api-state.js';

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
 * after every page: a run cut off by a crash resumes there (a minute earlier: see
 * DEFAULT_OVERLAP_MS). A customer whose data is not a valid state, or whose forward the target
 * refuses for good, is counted and skipped; any other failure (the API, a target that is away) ends
 * the run, and the next one resumes from the watermark.
 */

export interface SyncSummary {
  seen: number;
  /** States stored (newer than the store's). */
  applied: number;
  /** Already stored, or older than what is stored. */
  unchanged: number;
  forwarded: number;
  /** Customers whose data is not a valid state (logged by id, skipped). */
  invalid: number;
  /**
   * Stored, but the forward target refused them for good, as a customer it will not take (400, 409,
   * 410, 413, 422; logged by id): one such customer must not stop every run at it. A later run
   * over them (`--since`) forwards them again once the target takes them: it never acknowledged
   * that version. Counted among `applied` or `unchanged` too.
   */
  refused: number;
}

/**
 * Answers about the customer sent, not about the target: any other refusal (401/403: a wrong
 * secret; 404/405: a wrong URL; a redirect) would refuse every customer, and ends the run.
 */
const CUSTOMER_REFUSALS = new Set([400, 409, 410, 413, 422]);

export interface SyncOptions {
  api: FlexpriceApi;
  /** What the jobs apply with (store, forward, lock waits); the reconciler counts what it stores. */
  applier: Parameters<typeof createCustomerApplier>[0];
  redis: RedisClient;
  /** The store's prefix: the watermarks live under it. */
  prefix: string;
  log: Logger;
  /** Start here (RFC 3339) instead of the watermarks. */
  since?: string | undefined;
  /** Counts a customer the target refused (see `refused`). */
  onRefused?: () => void;
  /** Read and compare; store, forward and move no watermark. */
  dryRun?: boolean;
  /** How far before its watermark a run starts (default a minute). */
  overlapMs?: number;
  pageSize?: number;
  onPage?: (progress: SyncSummary & { status: string; watermark: string }) => void;
}

const EPOCH = '1970-01-01T00:00:00Z';
const STATUSES = ['published', 'archived'] as const;

/** An RFC 3339 time in nanoseconds since the epoch (a time already checked; 0 if it is not one). */
const nanosOf = (value: string): bigint => BigInt(timestampNanos(value) ?? '0');

/** An RFC 3339 time one microsecond earlier (the search's `after` is strict). */
function microBefore(value: string): string {
  const nanos = nanosOf(value) - 1000n;
  return nanos < 0n ? EPOCH : fromNanos(nanos);
}

const sameTime = (a: string | undefined, b: string) => a !== undefined && timestampNanos(a) === timestampNanos(b);

/**
 * Each run starts this much before its watermark: a customer whose change committed after a later
 * one was read (transactions end out of order) is still read. Re-reads are harmless.
 */
const DEFAULT_OVERLAP_MS = 60_000;

/** An RFC 3339 time `ms` earlier, never before the epoch. */
function minus(value: string, ms: number): string {
  const nanos = nanosOf(value) - BigInt(ms) * 1_000_000n;
  return nanos <= 0n ? EPOCH : fromNanos(nanos);
}

function fromNanos(nanos: bigint): string {
  const seconds = nanos / 1_000_000_000n;
  const fraction = String(nanos % 1_000_000_000n).padStart(9, '0');
  return `${new Date(Number(seconds) * 1000).toISOString().slice(0, 19)}.${fraction}Z`;
}

export async function syncCustomers(options: SyncOptions): Promise<SyncSummary> {
  const { api, redis, log } = options;
  const { store } = options.applier;
  const pageSize = options.pageSize ?? 500;
  // A page re-reads the last row of the one before (see the loop): one row alone would never move on.
  if (pageSize < 2) throw new Error(`a sync page holds at least 2 customers (got ${pageSize})`);
  const summary: SyncSummary = { seen: 0, applied: 0, unchanged: 0, forwarded: 0, invalid: 0, refused: 0 };
  const applyState = createCustomerApplier({
    ...options.applier,
    onApplied: (source) => {
      summary.applied += 1;
      options.applier.onApplied?.(source);
    },
  });
  const watermarkKey = (status: string) => `${options.prefix}:sync:watermark:${status}`;

  /**
   * A watermark only moves forward: a `--since` run behind it (or one beside the scheduled run)
   * leaves it where it is. (Two runs saving at once may both pass the check: the later time may
   * then be lost to the earlier one, which only means re-reading a stretch on the next run.)
   */
  async function saveWatermark(status: string, watermark: string): Promise<void> {
    const saved = await redis.get(watermarkKey(status));
    const ahead = saved !== null && nanosOf(saved) >= nanosOf(watermark);
    if (!ahead) await redis.set(watermarkKey(status), watermark);
  }

  async function wouldApply(state: ReturnType<typeof stateFromApi>): Promise<boolean> {
    const stored = await store.get(state.event.customer.id);
    if (!stored) return true;
    if (stored.deleted && !stored.provisional) return false;
    // As the store's script decides: an API state supersedes a webhook one, else the later one.
    return !stored.version.endsWith(`.${API_TIE_BREAK}`) || state.version > stored.version;
  }

  /** Applies one customer (in a dry run: compares it). Data that can never be a state is counted and skipped. */
  async function apply(customer: DtoCustomerResponse): Promise<void> {
    summary.seen += 1;
    let state: ReturnType<typeof stateFromApi>;
    try {
      state = stateFromApi(customer, 'customer.updated', 'sync');
    } catch (error) {
      // One bad record must not stop every run at it: reported, skipped, counted.
      summary.invalid += 1;
      log.warn(
        { customerId: customer.id, err: { message: (error as Error).message } },
        'customer skipped: not a valid state',
      );
      return;
    }
    if (options.dryRun) {
      if (await wouldApply(state)) summary.applied += 1;
      else summary.unchanged += 1;
      return;
    }
    const nanos = state.version.split('.')[1] ?? '';
    const applied = summary.applied;
    try {
      const result = await applyState(state, {
        idempotencyKey: `sync-${keySafe(customer.id ?? '')}-${nanos}`,
        requestId: `sync-${nanos}`,
        log,
        stepAside: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      });
      if (result.forwarded === 'sent') summary.forwarded += 1;
    } catch (error) {
      // A target that is away (retryable), or refuses whatever it is sent, ends the run, which
      // resumes from the watermark.
      if (!(error instanceof RefusedForwardError && CUSTOMER_REFUSALS.has(error.status))) throw error;
      summary.refused += 1;
      options.onRefused?.();
      log.error(
        { customerId: customer.id, updatedAt: customer.updatedAt, err: { message: error.message } },
        'the forward target refused this customer for good: stored, not forwarded',
      );
    } finally {
      if (summary.applied === applied) summary.unchanged += 1;
    }
  }

  for (const status of STATUSES) {
    const saved = await redis.get(watermarkKey(status));
    let watermark = options.since ?? (saved === null ? EPOCH : minus(saved, options.overlapMs ?? DEFAULT_OVERLAP_MS));
    if (timestampNanos(watermark) === undefined) throw new Error(`not an RFC 3339 time: ${watermark}`);
    // A watermark says everything before it was read: a `--since` run that starts after it (or
    // with none saved) leaves a gap behind it, and must not move it.
    const continuesWatermark =
      options.since === undefined || (saved !== null && nanosOf(options.since) <= nanosOf(saved));
    // The customers read at exactly `watermark`, in the order the API listed them.
    let readAt: string[] = [];
    let restarts = 0;
    for (;;) {
      // One row of overlap with what was read at the watermark: if the API lists it where it was,
      // the offset still points where we stopped; if not (a customer of that instant was updated
      // meanwhile and moved on), the instant is read again from its start (re-reads are harmless).
      const query = (offset: number) =>
        api.queryCustomers({
          status,
          filters: [
            { field: 'updated_at', operator: 'after', dataType: 'date', value: { date: microBefore(watermark) } },
          ],
          sort: [
            { field: 'updated_at', direction: 'asc' },
            { field: 'created_at', direction: 'asc' },
          ],
          limit: pageSize,
          offset,
        });
      const offset = Math.max(readAt.length - 1, 0);
      let { items } = await query(offset);
      const first = items[0];
      const inPlace = readAt.length === 0 || (first?.id === readAt.at(-1) && sameTime(first?.updatedAt, watermark));
      const seenAt = new Set(readAt);
      if (!inPlace && restarts < 3) {
        // Read the instant from its start, and list what was read of it in the order it has now.
        restarts += 1;
        readAt = [];
        ({ items } = await query(0));
      }
      for (const customer of items) {
        const id = customer.id ?? '';
        const at = customer.updatedAt ?? '';
        if (sameTime(at, watermark)) {
          if (seenAt.has(id)) {
            if (!readAt.includes(id)) readAt.push(id);
            continue;
          }
        } else {
          watermark = at;
          readAt = [];
          seenAt.clear();
          restarts = 0;
        }
        readAt.push(id);
        seenAt.add(id);
        await apply(customer);
      }
      if (!options.dryRun && continuesWatermark && readAt.length > 0) await saveWatermark(status, watermark);
      options.onPage?.({ ...summary, status, watermark });
      if (items.length < pageSize) break;
    }
  }
  return summary;
}
