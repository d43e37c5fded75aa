import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import type { Delivery } from './deliveries.js';
import type { BenchOptions } from './options.js';
import { log } from './processes.js';

/** What one load run measured, client side. */
export interface LoadResult {
  /** Accepted (2xx) requests per second. */
  rps: number;
  /** Latency percentiles in ms (wrk: of the requests that completed). */
  p50: number;
  p99: number;
  accepted: number;
  non2xx: number;
  /** Connection errors and timeouts. */
  errors: number;
  sent: number;
}

export interface LoadOptions {
  seconds: number;
  /** A fixed offered rate over 10 connections (always autocannon); else as fast as possible. */
  overallRate?: number;
}

/** One wrk thread, each request the next raw delivery of the pool, read from a file. */
const WRK_SCRIPT = `
local requests = {}
local next = 0
init = function(args)
  local file = io.open(args[1], 'rb')
  local data = file:read('*a')
  file:close()
  local at = 1
  while at <= #data do
    local newline = data:find('\\n', at, true)
    local length = tonumber(data:sub(at, newline - 1))
    requests[#requests + 1] = data:sub(newline + 1, newline + length)
    at = newline + length + 1
  end
end
request = function()
  next = next + 1
  return requests[(next - 1) % #requests + 1]
end
done = function(summary, latency)
  local e = summary.errors
  io.stderr:write(string.format('{"requests":%d,"p50":%f,"p99":%f,"errors":%d,"non2xx":%d}\\n',
    summary.requests, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.timeout, e.status))
end
`;

interface WrkSummary {
  requests: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

async function loadWrk(port: number, pool: Delivery[], seconds: number, connections: number): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'flexprice-wrk-'));
  try {
    const raw = pool.map(({ headers, body }) => {
      const head = Object.entries({ host: `127.0.0.1:${port}`, 'content-length': Buffer.byteLength(body), ...headers })
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join('');
      const request = Buffer.from(`POST /webhooks/flexprice HTTP/1.1\r\n${head}\r\n${body}`);
      return Buffer.concat([Buffer.from(`${request.length}\n`), request]);
    });
    writeFileSync(join(dir, 'requests'), Buffer.concat(raw));
    writeFileSync(join(dir, 'script.lua'), WRK_SCRIPT);
    const child = spawn(
      'wrk',
      [
        '-t1',
        `-c${connections}`,
        `-d${seconds}s`,
        '-s',
        join(dir, 'script.lua'),
        `http://127.0.0.1:${port}`,
        '--',
        join(dir, 'requests'),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const [code] = (await once(child, 'exit')) as [number | null];
    if (code !== 0) throw new Error(`wrk exited with ${code}: ${stderr}`);
    const summary = JSON.parse(stderr.trim().split('\n').pop() ?? '') as WrkSummary;
    if (summary.requests > pool.length) log(`warning: ${summary.requests} requests from a pool of ${pool.length}`);
    const accepted = summary.requests - summary.non2xx - summary.errors;
    return {
      rps: accepted / seconds,
      p50: summary.p50,
      p99: summary.p99,
      accepted,
      non2xx: summary.non2xx,
      errors: summary.errors,
      sent: summary.requests,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `options.connections` connections against `port` for `seconds`, each request the next distinct
 * delivery of `pool`; with `overallRate`, 10 connections at that fixed rate (autocannon).
 */
export async function load(
  options: Pick<BenchOptions, 'loadGenerator' | 'connections'>,
  port: number,
  pool: Delivery[],
  { seconds, overallRate }: LoadOptions,
): Promise<LoadResult> {
  if (!overallRate && options.loadGenerator === 'wrk') return loadWrk(port, pool, seconds, options.connections);
  let next = 0;
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: overallRate ? 10 : options.connections,
    duration: seconds,
    ...(overallRate ? { overallRate } : {}),
    requests: [
      {
        method: 'POST',
        path: '/webhooks/flexprice',
        setupRequest: (request) => {
          const delivery = pool[next % pool.length];
          next += 1;
          return delivery ? { ...request, headers: delivery.headers, body: delivery.body } : request;
        },
      },
    ],
  });
  if (next > pool.length) log(`warning: ${next} requests from a pool of ${pool.length}`);
  const accepted = result['2xx'];
  return {
    rps: accepted / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    accepted,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    sent: next,
  };
}
