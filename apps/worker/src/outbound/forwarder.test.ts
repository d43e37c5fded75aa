import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from './forwarder.js';

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-11-26T10:00:00Z');

  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 26 Nov 2026 10:00:30 GMT', now)).toBe(30_000);
  });

  it('ignores what it cannot read, and dates in the past wait nothing', () => {
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('Thu, 26 Nov 2026 09:00:00 GMT', now)).toBe(0);
  });
});
