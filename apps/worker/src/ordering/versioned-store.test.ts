import { describe, expect, it } from 'vitest';
import { keyPart } from './versioned-store.js';

describe('keyPart', () => {
  it('leaves Flexprice ids as they are and encodes what a key or a SCAN pattern would read', () => {
    expect(keyPart('cust_01K2ZQ8R3V7M5N4P6Q8R0S2T4V')).toBe('cust_01K2ZQ8R3V7M5N4P6Q8R0S2T4V');
    expect(keyPart('env:a')).toBe('env%3Aa');
    expect(keyPart('a*b?')).toBe('a%2Ab%3F');
  });

  it('is total: a lone surrogate is hashed instead of throwing, and two such strings keep two keys', () => {
    const a = keyPart('ext-\ud800');
    const b = keyPart('ext-\ud801');
    expect(a).toMatch(/^~[0-9a-f]{64}$/);
    expect(b).toMatch(/^~[0-9a-f]{64}$/);
    expect(a).not.toBe(b);
    // A well-formed pair of surrogates (an emoji) is a character like any other.
    expect(keyPart('ext-😀')).toBe(encodeURIComponent('ext-😀'));
  });
});
