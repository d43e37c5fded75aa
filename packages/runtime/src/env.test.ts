import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { checkAlias, duration, durationIn, parseDuration } from './env.js';

/** The value a schema reads from one variable, or its first problem. */
function read<T extends z.ZodType>(schema: T, value: string): unknown {
  const parsed = schema.safeParse(value);
  return parsed.success ? parsed.data : parsed.error.issues[0]?.message;
}

describe('durations', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['15m', 900_000],
    ['12h', 43_200_000],
    ['7d', 604_800_000],
    [' 10 s ', 10_000],
    ['10', undefined],
    ['1.5s', undefined],
    ['10sec', undefined],
  ])('parseDuration(%j) is %j', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it('a variable named in milliseconds reads a duration with its unit, or a bare number of milliseconds', () => {
    const timeout = durationIn('ms', 100, 120_000);
    expect(read(timeout, '10s')).toBe(10_000);
    expect(read(timeout, '250ms')).toBe(250);
    expect(read(timeout, '2m')).toBe(120_000);
    expect(read(timeout, '10000')).toBe(10_000);
    expect(read(timeout, 'ten')).toBe('must be a whole number of milliseconds, or a duration such as 10s, 15m or 72h');
    expect(read(timeout, '50ms')).toBe('must be at least 100');
    expect(read(timeout, '3m')).toBe('must be at most 120000');
  });

  it('a variable named in seconds reads a duration with its unit, or a bare number of seconds; never a fraction', () => {
    const ttl = durationIn('s', 60, Number.MAX_SAFE_INTEGER, 'a redelivery would pass for new');
    expect(read(ttl, '72h')).toBe(259_200);
    expect(read(ttl, '7d')).toBe(604_800);
    expect(read(ttl, '259200')).toBe(259_200);
    expect(read(ttl, '1500ms')).toBe('must be a whole number of seconds, or a duration such as 10s, 15m or 72h');
    expect(read(ttl, '59s')).toBe('must be at least 60: a redelivery would pass for new');
  });

  it('a variable whose name has no unit must say it', () => {
    expect(read(duration(10_000), '15m')).toBe(900_000);
    expect(read(duration(10_000), '900000')).toBe('must be a duration such as 30s, 15m, 12h or 7d');
    expect(read(duration(10_000), '5s')).toBe('must be at least 10s');
  });
});

describe('checkAlias', () => {
  /** The problems and the value of one name and its alias, as a schema's superRefine sees them. */
  function check<T>(value: T | undefined, older: T | undefined, options?: Parameters<typeof checkAlias<T>>[3]) {
    let applies: T | undefined;
    const parsed = z
      .object({})
      .superRefine((_env, ctx) => {
        applies = checkAlias(ctx, ['NEW_NAME', value], ['OLD_NAME', older], options);
      })
      .safeParse({});
    return { applies, problems: parsed.error?.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`) };
  }

  it('takes either spelling, and both when they agree', () => {
    expect(check(5, undefined)).toEqual({ applies: 5, problems: undefined });
    expect(check(undefined, 5)).toEqual({ applies: 5, problems: undefined });
    expect(check(5, 5)).toEqual({ applies: 5, problems: undefined });
    expect(check(undefined, undefined)).toEqual({ applies: undefined, problems: undefined });
  });

  it('refuses both set to different values, naming the one to keep', () => {
    expect(check(5, 6).problems).toEqual([
      'NEW_NAME: and OLD_NAME (its older name) are both set, to different values: set NEW_NAME only',
    ]);
    expect(check(5, 6, { as: 'its alias' }).problems?.[0]).toContain('OLD_NAME (its alias)');
  });

  it('compares with `equal` when given', () => {
    const sameSecrets = (a: string, b: string) =>
      a
        .split(/[\s,]+/)
        .sort()
        .join() ===
      b
        .split(/[\s,]+/)
        .sort()
        .join();
    expect(check('a b', 'b,a', { equal: sameSecrets }).problems).toBeUndefined();
    expect(check('a b', 'a', { equal: sameSecrets }).problems).toHaveLength(1);
  });
});
