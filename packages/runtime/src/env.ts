import { z } from 'zod';
import { whsecProblem } from './secrets.js';

/**
 * A whole number from an environment string, with bounds and plain messages; `belowMin` says what a
 * smaller value would break, when the floor is there to keep a guarantee.
 */
export function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER, belowMin?: string) {
  return z.coerce
    .number({ error: 'must be a whole number' })
    .int({ error: 'must be a whole number' })
    .min(min, { error: `must be at least ${min}${belowMin ? `: ${belowMin}` : ''}` })
    .max(max, { error: `must be at most ${max}` });
}

/** Empty strings count as unset: `FOO=` in an env file should not mean "the empty value". */
export function optional<T extends z.ZodType>(schema: T) {
  return z.preprocess((value) => (value === '' ? undefined : value), schema.optional());
}

export const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info');

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A duration such as `500ms`, `30s`, `15m`, `12h` or `7d`, in milliseconds; undefined when it is not one. */
export function parseDuration(value: string): number | undefined {
  const match = /^(\d+)\s*(ms|s|m|h|d)$/.exec(value.trim());
  if (!match) return undefined;
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/**
 * A duration variable whose name carries no unit (`SYNC_INTERVAL=15m`): it must say its unit, as
 * milliseconds, at least `minMs`.
 */
export function duration(minMs: number) {
  return z.string().transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: 'must be a duration such as 30s, 15m, 12h or 7d' });
      return z.NEVER;
    }
    if (ms < minMs) {
      ctx.addIssue({ code: 'custom', message: `must be at least ${minMs / 1000}s` });
      return z.NEVER;
    }
    return ms;
  });
}

const UNIT_NAMES = { ms: 'milliseconds', s: 'seconds' } as const;

/**
 * A duration variable whose name ends in its unit (`_MS`, `_SECONDS`): a duration that says its
 * unit (`500ms`, `10s`, `15m`, `72h`, `7d`: how the docs write every duration), or a bare whole
 * number in the name's unit (how these variables were always set, so no deployment breaks).
 * Returns the value in the name's unit, within `min` and `max` (in that unit too); `belowMin` says
 * what a smaller value would break.
 */
export function durationIn(unit: 'ms' | 's', min: number, max = Number.MAX_SAFE_INTEGER, belowMin?: string) {
  return z.union([z.string(), z.number()]).transform((raw, ctx) => {
    const text = String(raw);
    const ms = parseDuration(text);
    // A bare number is read as z.coerce.number() always read it.
    const value = ms === undefined ? Number(text) : ms / UNIT_MS[unit];
    if (!Number.isInteger(value)) {
      ctx.addIssue({
        code: 'custom',
        message: `must be a whole number of ${UNIT_NAMES[unit]}, or a duration such as 10s, 15m or 72h`,
      });
      return z.NEVER;
    }
    if (value < min || value > max) {
      ctx.addIssue({
        code: 'custom',
        message: value < min ? `must be at least ${min}${belowMin ? `: ${belowMin}` : ''}` : `must be at most ${max}`,
      });
      return z.NEVER;
    }
    return value;
  });
}

/** Space- or comma-separated list. */
export function listOf(value: string | undefined): string[] {
  return (value ?? '').split(/[\s,]+/).filter((item) => item.length > 0);
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses the environment with a schema, or throws a ConfigError naming every wrong variable.
 * Values are never echoed: some of these variables are secrets.
 */
export function parseEnv<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv): z.infer<T> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  return parsed.data;
}

/**
 * A variable holding `whsec_…` secrets, space- or comma-separated (several while one is rotated):
 * each must be a usable key. One rule and one message shape in every app: `secret #N` says which.
 * Returns the secrets.
 */
export function checkSecretList(
  ctx: z.RefinementCtx,
  variable: string,
  value: string | undefined,
  options: {
    /** The variable that needs these secrets, when it is set (e.g. the URL they sign for). */
    requiredWith?: string | undefined;
    /** Appended to every problem: where to get, or how to make, a good secret. */
    hint?: string;
  } = {},
): string[] {
  const secrets = listOf(value);
  if (options.requiredWith !== undefined && secrets.length === 0) {
    ctx.addIssue({ code: 'custom', path: [variable], message: `is required with ${options.requiredWith}` });
  }
  for (const [index, secret] of secrets.entries()) {
    const problem = whsecProblem(secret);
    if (problem !== undefined) {
      // (A problem that says how to make a good key already carries its own hint.)
      const hint = problem.includes('echo') ? '' : (options.hint ?? '');
      ctx.addIssue({ code: 'custom', path: [variable], message: `secret #${index + 1} ${problem}${hint}` });
    }
  }
  return secrets;
}

/**
 * A variable renamed (or one that is another's alias): the older spelling still works. Both set to
 * different values is refused (which one wins would be a guess); returns the value that applies.
 * Values are compared as parsed (`7d` and `604800` seconds are one value), with `equal` when `===`
 * is not enough (secret lists, in any order or separator).
 */
export function checkAlias<T>(
  ctx: z.RefinementCtx,
  [name, value]: [string, T | undefined],
  [olderName, olderValue]: [string, T | undefined],
  options: { equal?: (a: T, b: T) => boolean; as?: string } = {},
): T | undefined {
  const equal = options.equal ?? ((a: T, b: T) => a === b);
  if (value !== undefined && olderValue !== undefined && !equal(value, olderValue)) {
    ctx.addIssue({
      code: 'custom',
      path: [name],
      message: `and ${olderName} (${options.as ?? 'its older name'}) are both set, to different values: set ${name} only`,
    });
  }
  return value ?? olderValue;
}

/** Two variables that only mean something together: one set without the other is refused. */
export function checkTogether(
  ctx: z.RefinementCtx,
  [nameA, valueA]: [string, unknown],
  [nameB, valueB]: [string, unknown],
): void {
  if ((valueA === undefined) !== (valueB === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: [valueA === undefined ? nameA : nameB],
      message: `${nameA} and ${nameB} go together`,
    });
  }
}

/** A boolean spelled out: `z.coerce.boolean()` would read "false" as true. */
export const flag = z
  .enum(['true', 'false'], { error: 'must be "true" or "false"' })
  .transform((value) => value === 'true');
