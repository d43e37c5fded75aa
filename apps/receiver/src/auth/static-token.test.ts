import { describe, expect, it } from 'vitest';
import { createStaticTokenCheck } from './static-token.js';

describe('createStaticTokenCheck', () => {
  const check = createStaticTokenCheck({ name: 'X-Api-Key', token: 'tenant-token-0123456789' });

  it('accepts the exact token in the configured header, whatever its case', () => {
    expect(check({ 'x-api-key': 'tenant-token-0123456789' })).toBe(true);
  });

  it.each([
    ['a missing header', {}],
    ['a prefix of the token', { 'x-api-key': 'tenant-token' }],
    ['the token with a suffix', { 'x-api-key': 'tenant-token-0123456789 ' }],
    ['the header repeated', { 'x-api-key': ['tenant-token-0123456789', 'x'] }],
  ])('refuses %s', (_, headers) => {
    expect(check(headers)).toBe(false);
  });
});
