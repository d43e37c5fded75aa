import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRefusalLog } from './refusal-log.js';

function capture() {
  const lines: [Record<string, unknown>, string][] = [];
  const logger = pino(
    { base: null, timestamp: false },
    {
      write: (line: string) => {
        const { msg, level: _, ...fields } = JSON.parse(line) as Record<string, unknown>;
        lines.push([fields, String(msg)]);
      },
    },
  );
  return { lines, logger };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('createRefusalLog', () => {
  it('logs the first five of each kind in full, counts the rest in one line per kind at the end of the interval', () => {
    vi.useFakeTimers();
    const { logger, lines } = capture();
    const refusals = createRefusalLog(logger, { intervalMs: 60_000 });
    const admitted = (status: number, reason: string | undefined, times: number) =>
      Array.from({ length: times }, () => refusals.admit(status, reason)).filter(Boolean).length;
    expect(admitted(401, 'missing_headers', 1000)).toBe(5);
    expect(admitted(401, 'stale', 3)).toBe(3);
    expect(admitted(404, undefined, 7)).toBe(5);
    expect(lines).toEqual([]);
    vi.advanceTimersByTime(60_000);
    expect(lines).toEqual([
      [
        { status: 401, reason: 'missing_headers', unlogged: 995, intervalMs: 60_000 },
        'requests refused and not logged one by one',
      ],
      [{ status: 404, unlogged: 2, intervalMs: 60_000 }, 'requests refused and not logged one by one'],
    ]);
    // A new interval starts afresh.
    expect(admitted(401, 'missing_headers', 6)).toBe(5);
    refusals.close();
    expect(lines.at(-1)?.[0]).toMatchObject({ status: 401, unlogged: 1 });
  });
});
