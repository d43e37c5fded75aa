import { API_ENTITIES, type ApiFamily, keySafe, timestampNanos } from '@flexprice/contracts';
import type { RedisClient } from '@flexprice/runtime';
import type { Logger } from 'pino';
import type { ApplyContext } from '../ordering/ordered-forward.js';
import type { ApiEntity, FlexpriceApi } from '../outbound/flexprice-api.js';
import { RefusedForwardError } from '../outbound/forwarder.js';
import { type EntityState, stateFromApi } from './api-state.js';
import { FAMILY_READERS, type SoftDelete } from './families.js';
import type { Keeper } from './keepers.js';

/**
 * The reconciler: reads every entity of a family Flexprice changed since the last run and applies
 * each through the same keeper as the jobs (store, index, tombstone, ordered forward), so a webhook
 * Flexprice never delivered (receiver down past its retries, a payload it failed to build) is
 * healed, and nothing it applies can take an entity back to an older state. A state is forwarded as
 * the family's update event (`customer.updated`, `invoice.update`, …), or its deletion event.
 *
 * Paging is by keyset on `updated_at` where the family's search filters on it (customers,
 * subscriptions, invoices, entitlements, features): each page asks for entities updated at or after
 * the last `updated_at` seen, skipping those already read at exactly that time, so one updated
 * while the sync runs moves ahead and is read again rather than skipped (re-reads are harmless).
 * Where the search only sorts (wallets, payments) every entity is read, oldest change first, and
 * those older than the watermark are passed over. Each soft-delete status is a walk of its own,
 * with its watermark in Redis, saved after every page (for a walk without a filter, after it ends):
 * a run cut off by a crash resumes there (a minute earlier: see DEFAULT_OVERLAP_MS). An entity
 * whose data is not a valid state, or whose forward the target refuses for good, is counted and
 * skipped; any other failure (the API, a target that is away) ends the run, and the next one
 * resumes from the watermark. Credit notes have no list: they are read on notify only.
 */

export interface SyncSummary {
  seen: number;
  /** States stored or forwarded (newer than what was kept). */
  applied: number;
  /** Already kept, or older than what is kept. */
  unchanged: number;
  forwarded: number;
  /** Entities whose data is not a valid state (logged by id, skipped). */
  invalid: number;
  /**
   * Kept, but the forward target refused them for good, as an entity it will not take (400, 409,
   * 410, 413, 422; logged by id): one such entity must not stop every run at it. A later run over
   * them (`--since`) forwards them again once the target takes them: it never acknowledged that
   * version. Counted among `applied` or `unchanged` too.
   */
  refused: number;
}

/**
 * Answers about the entity sent, not about the target: any other refusal (401/403: a wrong
 * secret; 404/405: a wrong URL; a redirect) would refuse every entity, and ends the run.
 */
const ENTITY_REFUSALS = new Set([400, 409, 410, 413, 422]);

export interface SyncOptions {
  api: FlexpriceApi;
  family: ApiFamily;
  /** Where the family's states are kept and forwarded (the jobs' own). */
  keeper: Keeper;
  redis: RedisClient;
  /** The store's prefix: the watermarks live under it. */
  prefix: string;
  log: Logger;
  /** Start here (RFC 3339) instead of the watermarks. */
  since?: string | undefined;
  /** Counts an entity the target refused (see `refused`). */
  onRefused?: () => void;
  /** Counts a state this run stored or forwarded. */
  onApplied?: () => void;
  /** Read and compare; store, forward and move no watermark. */
  dryRun?: boolean;
  /** How far before its watermark a run starts (default a minute). */
  overlapMs?: number;
  pageSize?: number;
  onPage?: (progress: SyncSummary & { family: ApiFamily; status: string; watermark: string }) => void;
}

/** Whether the family can be walked by the reconciler. */
export const isSyncable = (family: ApiFamily) => FAMILY_READERS[family].page !== undefined;

const EPOCH = '1970-01-01T00:00:00Z';

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

/**
 * Where a walk's watermark lives. The customer walks keep the keys they had before other families
 * were synced (`sync:watermark:published`), so an upgrade does not read every customer again.
 */
function watermarkKey(prefix: string, family: ApiFamily, status: SoftDelete | undefined): string {
  const walk = status ?? 'all';
  return family === 'customer' ? `${prefix}:sync:watermark:${walk}` : `${prefix}:sync:watermark:${family}:${walk}`;
}

/** Whether applying `state` would store or forward anything (a dry run's guess, from the kept version). */
function wouldApply(state: EntityState, kept: string | undefined): boolean {
  if (kept === undefined) return true;
  // A final deletion (`1.`) is kept for good; an API state supersedes any other, else the later wins.
  if (kept.startsWith('1.')) return false;
  return !kept.endsWith('.api') || state.version > kept;
}

export async function syncFamily(options: SyncOptions): Promise<SyncSummary> {
  const { api, family, keeper, redis, log } = options;
  const reader = FAMILY_READERS[family].page;
  const summary: SyncSummary = { seen: 0, applied: 0, unchanged: 0, forwarded: 0, invalid: 0, refused: 0 };
  if (!reader) return summary;
  const pageSize = options.pageSize ?? 500;
  // A page re-reads the last row of the one before (see the loop): one row alone would never move on.
  if (pageSize < 2) throw new Error(`a sync page holds at least 2 entities (got ${pageSize})`);
  const update = API_ENTITIES[family].update;

  /**
   * A watermark only moves forward: a `--since` run behind it (or one beside the scheduled run)
   * leaves it where it is. (Two runs saving at once may both pass the check: the later time may
   * then be lost to the earlier one, which only means re-reading a stretch on the next run.)
   */
  async function saveWatermark(key: string, watermark: string): Promise<void> {
    const saved = await redis.get(key);
    const ahead = saved !== null && nanosOf(saved) >= nanosOf(watermark);
    if (!ahead) await redis.set(key, watermark);
  }

  /** Applies one entity (in a dry run: compares it). Data that can never be a state is counted and skipped. */
  async function apply(entity: ApiEntity): Promise<void> {
    summary.seen += 1;
    let state: EntityState;
    try {
      state = stateFromApi(family, entity, update, 'sync');
    } catch (error) {
      // One bad record must not stop every run at it: reported, skipped, counted.
      summary.invalid += 1;
      log.warn(
        { family, entityId: entity.id, err: { message: (error as Error).message } },
        'entity skipped: not a valid state',
      );
      return;
    }
    if (options.dryRun) {
      if (wouldApply(state, await keeper.lastVersion(entity.id))) summary.applied += 1;
      else summary.unchanged += 1;
      return;
    }
    const nanos = state.version.split('.')[1] ?? '';
    const context: ApplyContext = {
      idempotencyKey: `sync-${keySafe(entity.id)}-${nanos}`,
      requestId: `sync-${nanos}`,
      log,
      stepAside: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    };
    let applied = false;
    try {
      const result = await keeper.apply(state, context, () => {
        applied = true;
        options.onApplied?.();
      });
      if (result.forwarded === 'sent') summary.forwarded += 1;
    } catch (error) {
      // A target that is away (retryable), or refuses whatever it is sent, ends the run, which
      // resumes from the watermark.
      if (!(error instanceof RefusedForwardError && ENTITY_REFUSALS.has(error.status))) throw error;
      summary.refused += 1;
      options.onRefused?.();
      log.error(
        { family, entityId: entity.id, updatedAt: entity.updatedAt, err: { message: error.message } },
        'the forward target refused this entity for good: kept, not forwarded',
      );
    } finally {
      if (applied) summary.applied += 1;
      else summary.unchanged += 1;
    }
  }

  for (const status of reader.statuses) {
    const key = watermarkKey(options.prefix, family, status);
    const saved = await redis.get(key);
    let watermark = options.since ?? (saved === null ? EPOCH : minus(saved, options.overlapMs ?? DEFAULT_OVERLAP_MS));
    if (timestampNanos(watermark) === undefined) throw new Error(`not an RFC 3339 time: ${watermark}`);
    // A watermark says everything before it was read: a `--since` run that starts after it (or
    // with none saved) leaves a gap behind it, and must not move it.
    const continuesWatermark =
      options.since === undefined || (saved !== null && nanosOf(options.since) <= nanosOf(saved));
    const query = (after: string, offset: number) =>
      api.page(family, { status, after: microBefore(after), limit: pageSize, offset });
    const progress = () => options.onPage?.({ ...summary, family, status: status ?? 'all', watermark });

    if (!reader.keyset) {
      // No filter on updated_at: every entity, in order of creation (an update does not move one);
      // what the watermark has seen is passed over. Each page starts a quarter of a page back, so
      // that entities leaving the list during the walk (up to that many a page) shift none past it.
      // The watermark moves once the walk has ended, to the newest change it read.
      const from = nanosOf(watermark);
      const overlap = Math.floor(pageSize / 4);
      const read = new Set<string>();
      let newest = watermark;
      for (let offset = 0; ; ) {
        const items = await query(watermark, offset);
        for (const entity of items) {
          if (read.has(entity.id)) continue;
          read.add(entity.id);
          const at = entity.updatedAt ?? '';
          const known = timestampNanos(at) !== undefined;
          if (known && nanosOf(at) < from) continue;
          await apply(entity);
          if (known && nanosOf(at) > nanosOf(newest)) newest = at;
        }
        progress();
        if (items.length < pageSize) break;
        offset += items.length - overlap;
      }
      if (!options.dryRun && continuesWatermark && newest !== watermark) await saveWatermark(key, newest);
      watermark = newest;
      continue;
    }

    // The entities read at exactly `watermark`, in the order the API listed them.
    let readAt: string[] = [];
    let restarts = 0;
    for (;;) {
      // One row of overlap with what was read at the watermark: if the API lists it where it was,
      // the offset still points where we stopped; if not (an entity of that instant was updated
      // meanwhile and moved on), the instant is read again from its start (re-reads are harmless).
      const offset = Math.max(readAt.length - 1, 0);
      let items = await query(watermark, offset);
      const first = items[0];
      const inPlace = readAt.length === 0 || (first?.id === readAt.at(-1) && sameTime(first?.updatedAt, watermark));
      const seenAt = new Set(readAt);
      if (!inPlace && restarts < 3) {
        // Read the instant from its start, and list what was read of it in the order it has now.
        restarts += 1;
        readAt = [];
        items = await query(watermark, 0);
      }
      for (const entity of items) {
        const id = entity.id;
        const at = entity.updatedAt ?? '';
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
        await apply(entity);
      }
      if (!options.dryRun && continuesWatermark && readAt.length > 0) await saveWatermark(key, watermark);
      progress();
      if (items.length < pageSize) break;
    }
  }
  return summary;
}
