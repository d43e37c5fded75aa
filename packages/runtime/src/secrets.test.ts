import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isExampleSecret, isPlaceholder, refusingPlaceholders, whsecProblem } from './secrets.js';

const key = (text: string) => `whsec_${Buffer.from(text).toString('base64')}`;

describe('whsecProblem', () => {
  it("accepts Svix's 24-byte keys, padded or not, and longer ones", () => {
    expect(whsecProblem(`whsec_${randomBytes(24).toString('base64')}`)).toBeUndefined();
    expect(whsecProblem(`whsec_${Buffer.alloc(64, 7).toString('base64')}`)).toBeUndefined();
    expect(whsecProblem(`whsec_${Buffer.alloc(25, 7).toString('base64')}`)).toBeUndefined();
  });

  it('refuses keys shorter than 24 bytes, saying how long they are', () => {
    expect(whsecProblem('whsec_AA==')).toMatch(/^is a 1-byte key; at least 24 bytes/);
    expect(whsecProblem(`whsec_${Buffer.alloc(23, 7).toString('base64')}`)).toMatch(/^is a 23-byte key/);
  });

  it('refuses what is not whsec_ and base64', () => {
    expect(whsecProblem('hunter2')).toBe('must start with "whsec_"');
    expect(whsecProblem('whsec_')).toBe('is not "whsec_" followed by base64');
    expect(whsecProblem('whsec_***')).toBe('is not "whsec_" followed by base64');
    expect(whsecProblem('whsec_abc$def')).toBe('is not "whsec_" followed by base64');
  });

  // Issue 20, item 3: with .env.example's secret left as it was, forged webhooks got in.
  it.each([
    ['.env.example (receiver)', 'whsec_cmVwbGFjZS1tZS13aXRoLXlvdXItc3ZpeC1zZWNyZXQ='],
    ['.env.example (routes)', 'whsec_cmVwbGFjZS1tZS13aXRoLWEtcm91dGUtc2VjcmV0LTE='],
    ['.env.example (customer route)', 'whsec_cmVwbGFjZS1tZS13aXRoLWEtZm9yd2FyZC1zZWNyZXQ='],
    ["Svix's documentation (and this README, until round 3)", 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
    ['a key that reads as an example', key('this-is-an-EXAMPLE-key-of-32-bytes!!')],
    ['a key that says change me', key('changeme-changeme-changeme')],
    ['a key that says placeholder', key('placeholder-0123456789abcdef')],
  ])('refuses an example secret: %s', (_, secret) => {
    expect(isExampleSecret(secret)).toBe(true);
    expect(whsecProblem(secret)).toBe(
      'is an example secret (from .env.example or public documentation): anyone can sign with it',
    );
  });
});

describe('refusingPlaceholders', () => {
  const token = refusingPlaceholders(z.string(), 'set the real one');
  it.each([
    'replace-me-with-a-long-random-token',
    'replace-me-with-a-long-password',
    'replace-me-with-an-api-key-of-this-environment',
    'CHANGEME-0123456789',
  ])('refuses %s, never echoing it', (value) => {
    expect(isPlaceholder(value)).toBe(true);
    const issues = token.safeParse(value).error?.issues ?? [];
    expect(issues.map((issue) => issue.message)).toEqual([
      'is an example value (a placeholder from .env.example or documentation): set the real one',
    ]);
    expect(JSON.stringify(issues)).not.toContain(value);
  });

  it('takes a random token', () => {
    expect(token.safeParse(randomBytes(24).toString('hex')).success).toBe(true);
  });
});
