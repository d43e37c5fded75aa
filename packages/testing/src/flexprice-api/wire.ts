/** How Flexprice's Go handlers write times and leave out empty fields. */

/** RFC 3339 with microseconds, as Go prints Postgres timestamps. */
export function isoMicros(micros: bigint): string {
  const ms = Number(micros / 1000n);
  const date = new Date(ms).toISOString().slice(0, 19);
  return `${date}.${String(micros % 1_000_000n).padStart(6, '0')}Z`;
}

/** Comparable nanoseconds of an RFC 3339 time (any fraction); -1 for what is not one. */
export function nanos(value: string): bigint {
  const match = /^(.*?)(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(value);
  if (!match) return -1n;
  const [, base = '', fraction = '', zone = 'Z'] = match;
  const ms = Date.parse(`${base}${zone}`);
  if (Number.isNaN(ms)) return -1n;
  const seconds = BigInt(Math.floor(ms / 1000));
  return seconds * 1_000_000_000n + BigInt(fraction.slice(0, 9).padEnd(9, '0'));
}

/** One clock for the whole stand-in: every `updated_at` it hands out is later than the last (µs). */
export function createClock(): () => string {
  let last = 0n;
  return () => {
    const now = BigInt(Date.now()) * 1000n;
    last = now > last ? now : last + 1n;
    return isoMicros(last);
  };
}

/**
 * Go's `omitempty`, applied to every top-level field: empty strings, empty maps and lists, and
 * unset fields are not sent. (Flexprice tags most optional fields so; the stand-in omits the rest
 * too, the harder case for a client that must cope with absent keys.) `false`, `0` and `null` are
 * sent as given, and nested objects exactly as the test built them.
 */
export function omitEmpty(entity: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(entity).filter(
      ([, value]) =>
        value !== '' &&
        value !== undefined &&
        !(typeof value === 'object' && value !== null && Object.keys(value).length === 0),
    ),
  );
}
