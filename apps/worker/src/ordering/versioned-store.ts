import { createHash } from 'node:crypto';
import { VERSION_FORMAT } from '@flexprice/contracts';
import { loadScript, type RedisClient, scriptCommand } from '@flexprice/runtime';

/**
 * Versioned marks in Redis: the one atomic step behind "the state we keep and forward never goes
 * backwards", shared by the customer store (which keeps each customer's state and an index) and the
 * entity marks of every forwarded family (which keep only versions).
 *
 * A record is a hash holding the newest applied `version`, the key of the delivery that applied it,
 * a deletion flag and the newest version the forward target acknowledged. One Lua script
 * (`apply-version.lua`) applies a version only when it is newer, keeps deletions final, and, when a
 * forward is wanted, takes the record's forward lock, so forwards of one record go out one at a
 * time and in version order. A second job of one delivery id (a Svix resend after the receiver's
 * dedupe window) takes the first job's version: old content never passes for new because it
 * arrived again.
 *
 * Two orderings, by what a version stands for:
 * - `state` (customers): the record holds a state; anything that does not supersede it is stale.
 *   A state read from Flexprice's API (version ending in `.api`) supersedes one from a webhook.
 * - `event` (forwarded families): an event is stale only when a newer one was acknowledged by the
 *   target (a newer one merely stored may yet fail for good), and only by its time: the version's
 *   deletion flag and payload time (up to `VERSION_FORMAT.PAYLOAD_TIME_END`). Two events of one
 *   time are both forwarded, one at a time. And versions are kept per clock (`versionClockOf`): an
 *   event stamped with its payload's time is never compared with one stamped with the time it was
 *   accepted.
 */

/**
 * - `applied`: this run stored the version (or, for an event, found it no older than the stored one).
 * - `current`: an earlier run of this job (or delivery) stored it, and it is still the newest.
 * - `unchanged`: another delivery stored this very version (an API state read twice).
 * - `skipped_stale`: a newer state is stored (or, for an event, was already forwarded).
 * - `skipped_tombstone`: the entity was deleted.
 */
export type ApplyOutcome = 'applied' | 'current' | 'unchanged' | 'skipped_stale' | 'skipped_tombstone';

/**
 * What may happen with the forward, for an applied or current version:
 * - `locked`: the forward lock is ours; forward, then `forwarded()` (or `releaseForward()`).
 * - `busy`: another forward of this record is in flight; try again shortly.
 * - `already`: this version (or, for states, a newer one) was forwarded and acknowledged.
 * - `none`: no forward was asked for.
 */
export type ForwardGate = 'locked' | 'busy' | 'already' | 'none';

export interface ApplyResult {
  outcome: ApplyOutcome;
  forward: ForwardGate;
  /** The version applied: the request's, or that of the delivery's first job. */
  version: string;
}

export type Ordering = 'state' | 'event' | 'announce';

/**
 * Where a version's time comes from: the payload's own time, when a receiver accepted it, or the
 * `updated_at` Flexprice's API answered. Versions of different clocks are never compared.
 */
export type VersionClock = 'payload' | 'receipt' | 'api';

// The scripts, beside this file (their KEYS, ARGV and answers in their headers). What the store
// script knows of the version format, contracts' VERSION_FORMAT tells it.
export const applyVersionScript = loadScript(import.meta.url, 'apply-version.lua', VERSION_FORMAT);
export const markForwardedScript = loadScript(import.meta.url, 'mark-forwarded.lua');
export const releaseForwardLockScript = loadScript(import.meta.url, 'release-forward-lock.lua');

/** The suffix of a clock's fields in a record (`version_r`, …); none for the one clock of states. */
export const clockSuffix = (clock: MarkRequest['clock']) =>
  clock === undefined ? '' : ({ payload: '_p', receipt: '_r', api: '_a' } as const)[clock];

/**
 * One part of a key: no `:` (and nothing a SCAN pattern reads) survives encoding. Total: a string
 * `encodeURIComponent` cannot encode (a lone UTF-16 surrogate, which a job queued before the
 * receivers refused them may hold) is hashed from its UTF-16 units instead, so it never fails a job
 * and two such ids never share a key.
 */
export const keyPart = (value: string) =>
  LONE_SURROGATE.test(value)
    ? `~${createHash('sha256').update(value, 'utf16le').digest('hex')}`
    : encodeURIComponent(value).replace(/[*]/g, '%2A');

const LONE_SURROGATE = /\p{Surrogate}/u;

export interface MarkKeys {
  record: string;
  lock: string;
  delivery: string;
  /** The customer store's external-id set of the state's external id; absent for entity marks. */
  index?: { live: string };
}

export interface MarkRequest {
  version: string;
  idempotencyKey: string;
  deleting: boolean;
  /**
   * The deletion rests on a 404 alone (no deletion event, no deleted status): ordered like a state,
   * so a later live state supersedes it, where any other deletion is final.
   */
  provisional?: boolean | undefined;
  /**
   * The delivery had an id (Svix): a later job of the same key (a resend after the dedupe window)
   * takes the first job's version, for `pinTtlSeconds`. A native body is a fresh read of the
   * entity every time, so its own acceptance time stands.
   */
  pinTtlSeconds: number;
  /** Take the forward lock when the version may be forwarded (a forward target is configured). */
  lock?: { token: string; ttlMs: number } | undefined;
  ordering: Ordering;
  /**
   * The clock of the version (`versionClockOf`), for `event` ordering: versions of each clock are
   * kept and compared apart. Unset: the one clock of `state` ordering.
   */
  clock?: VersionClock | undefined;
  /** Expire the record this long after its last apply (a tombstone never); 0: never. */
  recordTtlSeconds: number;
  /** The record's id (what the index sets hold). */
  id: string;
  /** Stored with the version when it is applied. */
  fields: Record<string, string>;
  now: number;
}

/** The versioned apply, forwarded and release steps on one connection. */
export function versionedCommands(redis: RedisClient) {
  const applyVersion = scriptCommand<[ApplyOutcome, ForwardGate, string]>(redis, applyVersionScript);
  const markForwarded = scriptCommand<number>(redis, markForwardedScript);
  const releaseForwardLock = scriptCommand<number>(redis, releaseForwardLockScript);
  return {
    async apply(keys: MarkKeys, request: MarkRequest): Promise<ApplyResult> {
      const keyList = [keys.record, keys.lock, keys.delivery, ...(keys.index ? [keys.index.live] : [])];
      const [outcome, forward, version] = await applyVersion(keyList, [
        request.version,
        request.idempotencyKey,
        String(request.now),
        request.deleting ? (request.provisional ? 'p' : '1') : '0',
        request.lock?.token ?? '',
        String(request.lock?.ttlMs ?? 0),
        String(request.pinTtlSeconds),
        request.ordering,
        String(request.recordTtlSeconds),
        request.id,
        clockSuffix(request.clock),
        ...Object.entries(request.fields).flat(),
      ]);
      return { outcome, forward, version };
    },
    /** The target acknowledged `version`: remember it and release the lock taken by `apply`. */
    async forwarded(
      keys: MarkKeys,
      version: string,
      token: string,
      options: { clock?: MarkRequest['clock']; recordTtlSeconds?: number; pending?: boolean } = {},
    ): Promise<void> {
      await markForwarded(
        [keys.record, keys.lock],
        [
          version,
          token,
          clockSuffix(options.clock),
          options.pending ? 'pending' : 'acknowledged',
          String(options.recordTtlSeconds ?? 0),
        ],
      );
    },
    /** The forward failed: release the lock (if it is still ours) for the next try or a newer version. */
    async release(keys: MarkKeys, token: string): Promise<void> {
      await releaseForwardLock([keys.lock], [token]);
    },
  };
}

/** A record's versioned steps, bound to its keys: what the ordered forward works with. */
export interface Mark {
  apply(lock: { token: string; ttlMs: number } | undefined): Promise<ApplyResult>;
  forwarded(version: string, token: string): Promise<void>;
  release(token: string): Promise<void>;
  /**
   * The forward timed out or was cut: it may have reached the target. Keep the lock (it lapses by
   * itself) and, for events, let no older version out after it.
   */
  mayHaveForwarded(version: string): Promise<void>;
}
