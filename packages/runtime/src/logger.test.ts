import { describe, expect, it } from 'vitest';
import { CENSOR, createLogger, redactLine } from './logger.js';

describe('redactLine', () => {
  it('censors the named fields at the top of a line and one object down, in a copy', () => {
    const line = {
      jobId: '7',
      token: 'whsec_x',
      customer: { id: 'cust_1', email: 'a@example.com' },
      result: { outcome: 'applied', email: 'b@example.com', nested: { email: 'deeper' } },
      err: { message: 'boom', authorization: 'Bearer x' },
    };
    const before = structuredClone(line);
    expect(redactLine(line)).toEqual({
      jobId: '7',
      token: CENSOR,
      customer: CENSOR,
      // Two levels: the policy's reach, as with pino's `*.email` before it.
      result: { outcome: 'applied', email: CENSOR, nested: { email: 'deeper' } },
      err: { message: 'boom', authorization: CENSOR },
    });
    expect(line).toEqual(before);
  });

  it('returns a clean line itself (no copy on the hot path)', () => {
    const line = { jobId: '7', result: { outcome: 'applied', version: 'v' }, tags: ['email'] };
    expect(redactLine(line)).toBe(line);
  });

  it('leaves objects that are not plain (an Error) whole', () => {
    const err = Object.assign(new Error('boom'), { token: 'x' });
    expect(redactLine({ err }).err).toBe(err);
  });
});

describe('createLogger', () => {
  it('redacts lines and child bindings, and names the service', () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger('worker', {
      level: 'info',
      destination: { write: (chunk: string) => lines.push(JSON.parse(chunk)) },
    });
    logger.child({ customer: { email: 'a@example.com' } }).info({ result: { email: 'b@example.com' } }, 'done');
    logger.child({ jobId: '1' }).child({ token: 'whsec_x' }).info('grandchild');
    logger.debug({ email: 'c@example.com' }, 'below the level');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ service: 'worker', customer: CENSOR, result: { email: CENSOR }, msg: 'done' });
    expect(lines[1]).toMatchObject({ jobId: '1', token: CENSOR, msg: 'grandchild' });
    expect(JSON.stringify(lines)).not.toMatch(/@example\.com|whsec_x/);
  });
});
