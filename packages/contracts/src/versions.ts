/**
 * Versions: what orders two states of one entity, whatever order their deliveries arrived in.
 *
 * A version is a string that compares correctly as a string (byte by byte, in Lua as in JavaScript):
 *
 *     <state>.<payload time>.<accepted at>.<tie-break>
 *     0.01781182800123456789.01781182812345678.6f1c…    (a live state)
 *     1.01781182900000000000.01781182900000123.9a2e…    (a deletion: sorts after every live state)
 *
 * - `state`: `0` for a live state, `1` for a deletion. Flexprice never reuses ids, so a deletion is
 *   final: it outranks every live state, whenever it arrived.
 * - `payload time`: nanoseconds since the epoch, 20 digits: the payload's own modification time at
 *   full precision where it has one (legacy `updated_at`), else the acceptance time below. Flexprice
 *   builds a payload from the entity's state when it delivers it, so the time it was accepted is a
 *   fair upper bound of when that state was read.
 * - `accepted at`: microseconds since the epoch, 17 digits, read from Redis' clock (`TIME`) by the
 *   receiver that accepted the delivery: one clock for every receiver, so a delivery sent after
 *   another was acknowledged always has the later stamp.
 * - `tie-break`: the job id (two deliveries accepted within the same microsecond); `api` for a state
 *   read from Flexprice's API (`apiStateVersion`).
 *
 * Fixed widths are what make string order equal time order. (Redis' Lua numbers are doubles: a µs
 * epoch prints as 1.7e+15 and a ns epoch exceeds 2^53, so versions are never numbers.)
 */

/** Digits of a version's `payload time` (nanoseconds) and of its `accepted at` (microseconds). */
export const PAYLOAD_TIME_DIGITS = 20;
export const ACCEPTED_AT_DIGITS = 17;

const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * An RFC 3339 timestamp as nanoseconds since the epoch, 20 digits, without losing the fraction
 * (Go sends up to 9 digits; `Date` would keep 3). Undefined when it is not RFC 3339 or before 1970.
 */
export function timestampNanos(value: string): string | undefined {
  const match = RFC3339.exec(value);
  if (!match) return undefined;
  const [, date, time, fraction = '', zone = 'Z'] = match;
  const ms = Date.parse(`${date}T${time}${zone.toUpperCase()}`);
  if (Number.isNaN(ms) || ms < 0) return undefined;
  const seconds = Math.floor(ms / 1000);
  return `${String(seconds).padStart(11, '0')}${fraction.slice(0, 9).padEnd(9, '0')}`;
}

/** Microseconds since the epoch, 17 digits, from Redis' `TIME` answer (seconds, microseconds). */
export function microsFromRedisTime(seconds: string | number, micros: string | number): string {
  return `${String(seconds).padStart(11, '0')}${String(micros).padStart(6, '0')}`;
}

/** Microseconds since the epoch, 17 digits, from an ISO time (jobs queued before `acceptedAt`). */
export function microsFromIso(value: string): string {
  const nanos = timestampNanos(value);
  return nanos === undefined ? '0'.repeat(ACCEPTED_AT_DIGITS) : nanos.slice(0, ACCEPTED_AT_DIGITS);
}

export interface VersionParts {
  deleted: boolean;
  /** The payload's modification time (RFC 3339), when it carries one. */
  payloadTime: string | undefined;
  /** When the delivery was accepted: 17-digit microseconds. */
  acceptedMicros: string;
  tieBreak: string;
}

/** The version of one delivered state (see the top of this file). */
export function stateVersion({ deleted, payloadTime, acceptedMicros, tieBreak }: VersionParts): string {
  const payloadNanos = payloadTime === undefined ? undefined : timestampNanos(payloadTime);
  return `${deleted ? 1 : 0}.${payloadNanos ?? `${acceptedMicros}000`}.${acceptedMicros}.${tieBreak}`;
}

/**
 * The version of a state read from Flexprice's API: its own `updated_at`, at full precision, in
 * both time fields, and `api` for a tie-break. Two reads of one state have one version, so storing
 * and forwarding happen only when the customer really changed. A store prefers an API state to one
 * that came from a webhook body, whatever their times (the API is the source of truth; see the
 * worker's customer store).
 */
export function apiStateVersion({ deleted, updatedAt }: { deleted: boolean; updatedAt: string }): string | undefined {
  const nanos = timestampNanos(updatedAt);
  if (nanos === undefined) return undefined;
  return `${deleted ? 1 : 0}.${nanos}.${nanos.slice(0, ACCEPTED_AT_DIGITS)}.${API_TIE_BREAK}`;
}

/** The tie-break of every API-read version: what tells them from webhook ones. */
export const API_TIE_BREAK = 'api';

/**
 * The tie-break of a deletion that rests on Flexprice's API answering 404: an API version too, and
 * after a live one of the same time (`api` < `gone.api`).
 */
export const GONE_TIE_BREAK = `gone.${API_TIE_BREAK}`;

/**
 * The tie-break of a live API state of the very time of a provisional deletion, which takes the
 * deletion's version with this for `gone.api` (the worker's `apply-version.lua`): after it.
 */
export const REVIVED_TIE_BREAK = `revived.${API_TIE_BREAK}`;

/**
 * The version of a provisional deletion: one that rests on a (confirmed) 404 alone, with no deleted
 * status and no deletion event. A 404 carries no time and is weak evidence (a gateway, a replica
 * behind), so it is not a final deletion (`1.`): it is a live-ranked version at the time of the
 * newest state read from the API before it (zero when none was), its tie-break that state's with
 * `gone.` before the final `api` (so it sorts right after it). A live state with a later
 * `updated_at` supersedes it; one of that very time too (the entity was not gone), under the
 * deletion's version with `revived.api` for `gone.api` (the versioned store's script); an older one
 * does not. Deleted again at that time: `…revived.gone.api`, and so on, each after the last.
 */
export function provisionalDeletionVersion(lastVersion: string | undefined): string {
  const live = /^0\.(\d{20})\.(\d{17})\.((?:[a-z]+\.)*)api$/.exec(lastVersion ?? '');
  if (!live) return `0.${'0'.repeat(PAYLOAD_TIME_DIGITS)}.${'0'.repeat(ACCEPTED_AT_DIGITS)}.${GONE_TIE_BREAK}`;
  const [, payload, accepted, before = ''] = live;
  // Already a provisional deletion: the same one (a retry).
  if (before.endsWith('gone.')) return lastVersion ?? '';
  return `0.${payload}.${accepted}.${before}${GONE_TIE_BREAK}`;
}

/**
 * The version of a tombstone made by erasure (`pnpm customers erase`) at `ms`: a deletion (after
 * every live state) of that time, accepted then, its tie-break `erased`.
 */
export function erasureVersion(ms: number): string {
  const acceptedMicros = `${String(ms).padStart(ACCEPTED_AT_DIGITS - 3, '0')}000`;
  return stateVersion({ deleted: true, payloadTime: undefined, acceptedMicros, tieBreak: 'erased' });
}

/** The shape of a version, for the checks of the stores that compare them. */
export const VERSION_PATTERN = /^[01]\.\d{20}\.\d{17}\.[^\s]*$/;

/**
 * The format as the code that takes versions apart needs it: the Redis scripts get these as
 * constants (`loadScript` in `@flexprice/runtime` declares them above the file; the worker's
 * `apply-version.lua`, the receiver's `accept-deliveries.lua`), so that no script spells a width,
 * a position or a tie-break of its own. Positions count from 1 and include their end, as Lua's
 * `string.sub` does. Each is checked against versions made by the functions above (`versions.test.ts`).
 */
export const VERSION_FORMAT = {
  /** `<state>` of a live state (a deletion's is `1`). */
  LIVE_STATE: '0',
  PAYLOAD_TIME_DIGITS,
  ACCEPTED_AT_DIGITS,
  /** Where `<state>.<payload time>` ends: what orders events (by their payload time alone). */
  PAYLOAD_TIME_END: 2 + PAYLOAD_TIME_DIGITS,
  /** Where `<state>.<payload time>.<accepted at>` ends: a version without its tie-break. */
  ACCEPTED_AT_END: 3 + PAYLOAD_TIME_DIGITS + ACCEPTED_AT_DIGITS,
  /** What ends every version read from Flexprice's API (`apiStateVersion`, `provisionalDeletionVersion`). */
  API_SUFFIX: `.${API_TIE_BREAK}`,
  GONE_TIE_BREAK,
  REVIVED_TIE_BREAK,
} as const;
