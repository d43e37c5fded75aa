import { z } from 'zod';

/**
 * A lone UTF-16 surrogate (`"\ud800"` in JSON). No Flexprice payload holds one (Go and Svix send
 * UTF-8, which cannot), and such a string cannot be encoded into a key or a URL
 * (`encodeURIComponent` throws): refused where it would become one.
 */
const LONE_SURROGATE = /\p{Surrogate}/u;

/** Flexprice ids (`cust_…`, `subs_…`), external ids and names: required, never empty, well-formed. */
export const nonEmpty = z
  .string()
  .min(1, { error: 'must be a non-empty string' })
  .refine((value) => !LONE_SURROGATE.test(value), {
    error: 'must be well-formed Unicode (it holds a lone UTF-16 surrogate)',
  });

/** shopspring decimals travel as JSON strings ("100", "12.5"): keep them strings, never floats. */
export const money = z.string().regex(/^-?\d+(\.\d+)?$/, { error: 'must be a decimal string such as "12.5"' });

/** RFC 3339, UTC or with an offset, any fractional precision (Go's time.Time marshalling). */
export const timestamp = z.iso.datetime({ offset: true, error: 'must be an RFC 3339 timestamp' });

/** `{string: string}`; Go omits it when empty (current shape) or sends null (legacy shape). */
export const metadata = z.record(z.string(), z.string());

/** The soft-delete status every legacy (≤ v2.1.23) object carries from `BaseModel`. */
export const baseStatus = z.enum(['published', 'archived', 'deleted']);

/**
 * A key the other generation of a payload must not carry. Used to make the two customer shapes
 * mutually exclusive, so a legacy payload missing a field is reported as such instead of passing as
 * a current one.
 */
export function absent(generation: string) {
  return z.never({ error: `is not part of the ${generation} shape` }).optional();
}
