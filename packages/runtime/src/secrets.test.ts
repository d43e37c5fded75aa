import { describe, expect, it } from 'vitest';
import { whsecProblem } from './secrets.js';

describe('whsecProblem', () => {
  it("accepts Svix's 24-byte keys, padded or not, and longer ones", () => {
    expect(whsecProblem('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')).toBeUndefined();
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
});
