import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type BodyLimits, createBodyBudget, createBodyReader } from './body.js';

const LIMITS: BodyLimits = { maxBytes: 1000, budgetBytes: 2500, rateWindowMs: 1000, minBytesPerSecond: 100 };

/** A request body the test writes, and a response the test closes. */
function exchange(headers: Record<string, string>) {
  const req = Object.assign(new PassThrough(), { headers }) as unknown as IncomingMessage & PassThrough;
  const res = new EventEmitter() as unknown as ServerResponse;
  return { req, res, close: () => res.emit('close') };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('readBody', () => {
  it('reads the exact bytes, and gives them back to the budget when the response closes', async () => {
    const budget = createBodyBudget(LIMITS.budgetBytes);
    const read = createBodyReader(LIMITS, { budget });
    const { req, res, close } = exchange({ 'content-length': '4' });
    const body = read(req, res);
    expect(budget.held).toBe(4); // taken on the declared length, before a byte arrives
    req.end(Buffer.from([0x7b, 0xff, 0x7d, 0x0a]));
    expect(await body).toEqual({ ok: true, raw: Buffer.from([0x7b, 0xff, 0x7d, 0x0a]) });
    close();
    expect(budget.held).toBe(0);
  });

  it('refuses on the headers a compressed body, a declared length over the limit, one over the budget', async () => {
    const budget = createBodyBudget(LIMITS.budgetBytes);
    const read = createBodyReader(LIMITS, { budget });
    const gzip = exchange({ 'content-encoding': 'gzip', 'content-length': '10' });
    expect(await read(gzip.req, gzip.res)).toEqual({ ok: false, code: 'unsupported_media_type' });
    const large = exchange({ 'content-length': '1001' });
    expect(await read(large.req, large.res)).toEqual({ ok: false, code: 'payload_too_large' });
    const held = [exchange({ 'content-length': '1000' }), exchange({ 'content-length': '1000' })];
    for (const { req, res } of held) void read(req, res);
    expect(budget.held).toBe(2000);
    const over = exchange({ 'content-length': '501' });
    expect(await read(over.req, over.res)).toEqual({ ok: false, code: 'overloaded' });
    expect(budget.held).toBe(2000);
    const fits = exchange({ 'content-length': '500' });
    void read(fits.req, fits.res);
    expect(budget.held).toBe(2500);
    for (const exchanged of [...held, fits]) exchanged.close();
    expect(budget.held).toBe(0);
  });

  it('takes a body without a declared length from the budget as it comes, and stops at the budget', async () => {
    const budget = createBodyBudget(LIMITS.budgetBytes);
    budget.take(2000);
    const read = createBodyReader(LIMITS, { budget });
    const { req, res, close } = exchange({ 'transfer-encoding': 'chunked' });
    const body = read(req, res);
    req.write(Buffer.alloc(400));
    await vi.advanceTimersByTimeAsync(0);
    expect(budget.held).toBe(2400);
    req.write(Buffer.alloc(200));
    expect(await body).toEqual({ ok: false, code: 'overloaded' });
    close();
    expect(budget.held).toBe(2000);
  });

  it('cuts a body that brings less than the minimum rate over a stretch, a trickle or nothing', async () => {
    const read = createBodyReader(LIMITS);
    const trickle = exchange({ 'content-length': '1000' });
    const trickled = read(trickle.req, trickle.res);
    trickle.req.write(Buffer.alloc(150)); // enough for the first stretch
    await vi.advanceTimersByTimeAsync(1000);
    trickle.req.write(Buffer.alloc(99)); // one byte short in the second
    await vi.advanceTimersByTimeAsync(1000);
    expect(await trickled).toEqual({ ok: false, code: 'too_slow' });

    const silent = exchange({ 'content-length': '1000' });
    const nothing = read(silent.req, silent.res);
    await vi.advanceTimersByTimeAsync(1000);
    expect(await nothing).toEqual({ ok: false, code: 'too_slow' });
  });

  it('keeps a body that comes at the minimum rate, and forgives a stretch the event loop was late for', async () => {
    let lateBy = 0;
    const read = createBodyReader(LIMITS, { now: () => performance.now() + lateBy });
    const { req, res } = exchange({ 'content-length': '350' });
    const body = read(req, res);
    for (let i = 0; i < 3; i++) {
      req.write(Buffer.alloc(100));
      await vi.advanceTimersByTimeAsync(1000);
    }
    // A timer that fires long after its time: the process was busy, not the client slow.
    lateBy = 5000;
    await vi.advanceTimersByTimeAsync(1000);
    req.end(Buffer.alloc(50));
    expect(await body).toMatchObject({ ok: true });
  });
});
