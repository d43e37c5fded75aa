// Hostile load on the webhook port, against the built receiver on loopback: what a client without
// credentials could do to its memory, connections and logs (issue 21). Each test is bounded in
// connections and time; HOSTILE_LOAD_CONNECTIONS sets how many clients hold bodies (CI: 200).
// Every test fails on the receiver before these defenses (RELIABILITY.md, "Hostile load on the
// webhook port", has both runs' figures).
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { currentCustomer, customerEvent } from '@flexprice/contracts/fixtures';
import { freePort, type RunningProcess, redisTest, runNode, uniquePrefix } from '@flexprice/testing';
import { describe, expect } from 'vitest';
import {
  endlessChunks,
  type Feed,
  head,
  holdBody,
  MiB,
  memoryOf,
  type RawExchange,
  rawRequest,
  send,
  tally,
  trickle,
} from './hostile-clients.js';
import { SECRET, STATIC_HEADER, STATIC_TOKEN, signedHeaders } from './support.js';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const CONNECTIONS = Number(process.env.HOSTILE_LOAD_CONNECTIONS ?? 200);
/** What the tests configure: a short request deadline would hide the slow-client defenses behind it. */
const REQUEST_TIMEOUT_MS = 10_000;
const RATE_WINDOW_MS = 1_000;
const BUDGET = 16 * MiB;
/** What a connection costs the receiver without its body (socket, parser, request): far below 1 MiB. */
const ALLOWED_GROWTH = 32 * MiB + CONNECTIONS * 64 * 1024;

interface Receiver extends RunningProcess {
  port: number;
  pid: number;
  url: string;
  /** RECEIVER_METRICS_PORT's: /metrics. */
  metricsUrl: string;
}

const test = redisTest.extend('start', async ({ redis }, { onCleanup }) => {
  const started: RunningProcess[] = [];
  onCleanup(async () => {
    for (const proc of started) {
      proc.child.kill('SIGKILL');
      await proc.exited;
    }
  });
  return async (env: Record<string, string> = {}): Promise<Receiver> => {
    const port = await freePort();
    const metricsPort = await freePort();
    const proc = runNode(MAIN, {
      REDIS_URL: redis.url,
      QUEUE_PREFIX: uniquePrefix('load'),
      PORT: String(port),
      HOST: '127.0.0.1',
      RECEIVER_METRICS_PORT: String(metricsPort),
      RECEIVER_METRICS_HOST: '127.0.0.1',
      FLEXPRICE_WEBHOOK_SECRET: SECRET,
      FLEXPRICE_WEBHOOK_AUTH_HEADER: STATIC_HEADER,
      FLEXPRICE_WEBHOOK_AUTH_TOKEN: STATIC_TOKEN,
      REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      BODY_BUDGET_BYTES: String(BUDGET),
      BODY_RATE_WINDOW_MS: String(RATE_WINDOW_MS),
      LOG_LEVEL: 'warn',
      ...env,
    });
    started.push(proc);
    const url = `http://127.0.0.1:${port}`;
    const ready = () =>
      fetch(`${url}/readyz`).then(
        (res) => res.status,
        () => 0,
      );
    await expect.poll(ready, { timeout: 15_000 }).toBe(200);
    const pid = proc.child.pid;
    if (pid === undefined) throw new Error('the receiver has no pid');
    return { ...proc, port, pid, url, metricsUrl: `http://127.0.0.1:${metricsPort}` };
  };
});

/** A signed customer delivery: it must still be queued after whatever the test did. */
async function deliver(receiver: Receiver): Promise<number> {
  const body = JSON.stringify(customerEvent('customer.created', currentCustomer()));
  const res = await fetch(`${receiver.url}/webhooks/flexprice`, { method: 'POST', body, headers: signedHeaders(body) });
  await res.arrayBuffer();
  return res.status;
}

/** `count` clients at once, each its own connection. */
function crowd(receiver: Receiver, count: number, requestHead: () => string, feed: Feed, giveUpMs: number) {
  return Promise.all(Array.from({ length: count }, () => rawRequest(receiver.port, requestHead(), feed, giveUpMs)));
}

const closedWithin = (exchanges: RawExchange[]) =>
  Math.max(...exchanges.map((exchange) => exchange.closedAfterMs ?? Number.POSITIVE_INFINITY));

/** A body of 1 MiB (MAX_BODY_BYTES) sent but for its last byte: held open until the receiver lets go. */
const heldBodyHead = (headers: Record<string, string>) => () =>
  head('POST', '/webhooks/flexprice', {
    'Content-Type': 'application/json',
    'Content-Length': String(MiB),
    ...headers,
  });

/** Signature headers that pass every check the headers allow: fresh, well formed, a 32-byte MAC. */
const forgedSignature = () => ({
  'svix-id': `msg_${randomBytes(8).toString('hex')}`,
  'svix-timestamp': String(Math.floor(Date.now() / 1000)),
  'svix-signature': `v1,${randomBytes(32).toString('base64')}`,
});

describe('hostile load on the webhook port (built receiver, loopback)', () => {
  test(`${CONNECTIONS} clients holding 1 MiB bodies without credentials: memory stays flat, every connection is closed at once`, {
    timeout: 60_000,
  }, async ({ start }) => {
    const receiver = await start();
    expect(await deliver(receiver)).toBe(202);
    const before = memoryOf(receiver.pid).rss;
    const noCredentials = crowd(
      receiver,
      CONNECTIONS / 2,
      heldBodyHead({}),
      holdBody(MiB - 1),
      REQUEST_TIMEOUT_MS + 5_000,
    );
    const wrongToken = crowd(
      receiver,
      CONNECTIONS / 2,
      heldBodyHead({ [STATIC_HEADER]: `${STATIC_TOKEN.slice(0, -1)}x` }),
      holdBody(MiB - 1),
      REQUEST_TIMEOUT_MS + 5_000,
    );
    const exchanges = [...(await noCredentials), ...(await wrongToken)];
    const { rss, peak } = memoryOf(receiver.pid);
    const held = closedWithin(exchanges);
    console.info(
      `hostile load, unauthenticated: ${exchanges.length} × 1 MiB, RSS ${mib(before)} → peak ${mib(peak)} → ${mib(rss)} MiB, ` +
        `statuses ${JSON.stringify(tally(exchanges.map((e) => e.status)))}, every connection closed within ${held.toFixed(0)} ms`,
    );
    expect(peak - before).toBeLessThan(ALLOWED_GROWTH);
    // Well before the request deadline (which held each of them on the code before).
    expect(held).toBeLessThan(REQUEST_TIMEOUT_MS / 2);
    expect(exchanges.filter((e) => e.status !== undefined && e.status !== 401)).toEqual([]);
    expect(await deliver(receiver)).toBe(202);
  });

  test(`${CONNECTIONS} clients holding 1 MiB bodies behind forged signature headers: the budget bounds memory, 503 at once past it`, {
    timeout: 60_000,
  }, async ({ start }) => {
    const receiver = await start();
    expect(await deliver(receiver)).toBe(202);
    const before = memoryOf(receiver.pid).rss;
    const exchanges = await crowd(
      receiver,
      CONNECTIONS,
      heldBodyHead(forgedSignature()),
      holdBody(MiB - 1),
      REQUEST_TIMEOUT_MS + 5_000,
    );
    const { rss, peak } = memoryOf(receiver.pid);
    const held = closedWithin(exchanges);
    const refused = exchanges.filter((e) => e.status === 503);
    console.info(
      `hostile load, forged signatures: ${exchanges.length} × 1 MiB, budget ${mib(BUDGET)} MiB, RSS ${mib(before)} → peak ` +
        `${mib(peak)} → ${mib(rss)} MiB, statuses ${JSON.stringify(tally(exchanges.map((e) => e.status)))}, ` +
        `every connection closed within ${held.toFixed(0)} ms`,
    );
    expect(peak - before).toBeLessThan(BUDGET + ALLOWED_GROWTH);
    // Past the budget: 503 with Retry-After, at once; the few admitted at a time (16 of 1 MiB) are
    // cut by the body rate. (A client that has not read its answer before the close may see a reset
    // instead: no status.)
    const admitted = exchanges.filter((e) => e.status !== undefined && e.status !== 503);
    expect(admitted.filter((e) => e.status !== 408)).toEqual([]);
    expect(refused.length).toBeGreaterThan(CONNECTIONS / 2);
    for (const exchange of refused) expect(exchange.answer).toMatch(/\r\nretry-after: \d+\r\n/i);
    expect(held).toBeLessThan(REQUEST_TIMEOUT_MS / 2);
    expect(await deliver(receiver)).toBe(202);
  });

  test('trickled bodies are cut within their minimum rate, so they cannot hold every connection', {
    timeout: 60_000,
  }, async ({ start }) => {
    const trickling = 50;
    const receiver = await start({ MAX_CONNECTIONS: String(trickling) });
    const started = performance.now();
    // Authenticated by the static token (the worst case: past the header checks), 5 bytes a second.
    const exchanges = await crowd(
      receiver,
      trickling,
      () =>
        head('POST', '/webhooks/flexprice', {
          'Content-Type': 'application/json',
          'Content-Length': '1000',
          [STATIC_HEADER]: STATIC_TOKEN,
        }),
      trickle(200),
      REQUEST_TIMEOUT_MS + 5_000,
    );
    const held = closedWithin(exchanges);
    console.info(
      `hostile load, trickle: ${trickling} bodies at 5 B/s (MAX_CONNECTIONS ${trickling}), statuses ` +
        `${JSON.stringify(tally(exchanges.map((e) => e.status)))}, every connection closed within ${held.toFixed(0)} ms`,
    );
    expect(held).toBeLessThan(2 * RATE_WINDOW_MS + 1_000);
    expect(exchanges.filter((e) => e.status !== undefined && e.status !== 408)).toEqual([]);
    expect(exchanges.filter((e) => e.status === 408).length).toBeGreaterThan(trickling / 2);
    // The sockets they held are free again well before the request deadline.
    expect(await deliver(receiver)).toBe(202);
    expect(performance.now() - started).toBeLessThan(REQUEST_TIMEOUT_MS);
  });

  test('an answer sent before the body is read closes the connection instead of draining an endless body', {
    timeout: 60_000,
  }, async ({ start }) => {
    const receiver = await start();
    const chunked = { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' };
    const cases = {
      404: head('POST', '/nowhere', chunked),
      415: head('POST', '/webhooks/flexprice', {
        ...chunked,
        'Content-Encoding': 'gzip',
        [STATIC_HEADER]: STATIC_TOKEN,
      }),
      401: head('POST', '/webhooks/flexprice', chunked),
    };
    for (const [status, requestHead] of Object.entries(cases)) {
      // An endless body: the connection closed at once, not drained. (A client still sending when
      // the connection closes may see a reset rather than the answer.)
      const endless = await rawRequest(receiver.port, requestHead, endlessChunks, 5_000);
      console.info(
        `hostile load, early ${status}: answered ${endless.status ?? '(reset)'}, connection closed after ` +
          `${endless.closedAfterMs?.toFixed(0) ?? 'more than 5000'} ms, ${mib(endless.bodyBytesSent)} MiB of body taken`,
      );
      expect.soft([Number(status), undefined], status).toContain(endless.status);
      expect.soft(endless.closedAfterMs, status).toBeLessThan(2_000);
      expect.soft(endless.bodyBytesSent, status).toBeLessThan(64 * MiB);
    }
    for (const [status, requestHead] of Object.entries(cases)) {
      // A whole (chunked) body: the answer, and the connection closed after it.
      const finite = await rawRequest(receiver.port, requestHead, send('2\r\n{}\r\n0\r\n\r\n'), 3_000);
      expect(finite.status, status).toBe(Number(status));
      expect(finite.answer, status).toMatch(/\r\nconnection: close\r\n/i);
      expect(finite.closedAfterMs, status).toBeLessThan(1_000);
    }
    expect(await deliver(receiver)).toBe(202);
  });

  test('a burst of refusals writes a few log lines; the metrics count every one; health probes only at debug', {
    timeout: 60_000,
  }, async ({ start }) => {
    const receiver = await start({ LOG_LEVEL: 'info' });
    await expect.poll(receiver.output).toContain('receiver listening');
    const startupBytes = Buffer.byteLength(receiver.output());
    const body = JSON.stringify(customerEvent('customer.created', currentCustomer()));
    const stale = Math.floor(Date.now() / 1000) - 3600;
    const kinds: [number, () => Promise<Response>][] = [
      [400, () => fetch(`${receiver.url}/webhooks/flexprice`, { method: 'POST', body })],
      [
        400,
        () =>
          fetch(`${receiver.url}/webhooks/flexprice`, {
            method: 'POST',
            body,
            headers: signedHeaders(body, { timestampSeconds: stale }),
          }),
      ],
      [200, () => fetch(`${receiver.url}/nowhere`)],
      [100, () => fetch(`${receiver.url}/healthz`)],
      // Authenticated by the static token: its refusals are Flexprice's, each one logged.
      [
        20,
        () =>
          fetch(`${receiver.url}/webhooks/flexprice`, {
            method: 'POST',
            body,
            headers: { 'content-encoding': 'gzip', [STATIC_HEADER]: STATIC_TOKEN },
          }),
      ],
    ];
    const requests = kinds.flatMap(([count, send]) => Array.from({ length: count }, () => send));
    for (let i = 0; i < requests.length; i += 25) {
      await Promise.all(requests.slice(i, i + 25).map(async (send) => (await send()).arrayBuffer()));
    }
    const metrics = await (await fetch(`${receiver.metricsUrl}/metrics`)).text();
    expect(metrics).toContain('flexprice_webhook_requests_total{event_type="none",outcome="unauthorized"} 800');
    receiver.child.kill('SIGTERM');
    expect(await receiver.exited).toBe(0);
    const lines = receiver.output().split('\n').filter(Boolean);
    const logBytes = Buffer.byteLength(receiver.output()) - startupBytes;
    const unlogged = lines
      .filter((line) => line.includes('requests refused and not logged one by one'))
      .map((line) => JSON.parse(line) as { status: number; reason?: string; unlogged: number });
    console.info(
      `hostile load, logs: ${requests.length} requests (800 unauthenticated, 200 unknown paths, 100 probes, 20 ` +
        `authenticated refusals) wrote ` +
        `${logBytes} bytes of log (${lines.length} lines in all), ${(logBytes / requests.length).toFixed(1)} bytes a request`,
    );
    expect(logBytes).toBeLessThan(16 * 1024);
    // Five of each kind in full, the rest counted.
    expect(unlogged.map(({ status, reason, unlogged: n }) => [status, reason, n]).sort()).toEqual(
      [
        [401, 'missing_headers', 395],
        [401, 'stale', 395],
        [404, undefined, 195],
      ].sort(),
    );
    expect(lines.filter((line) => line.includes('"path":"/healthz"'))).toEqual([]);
    expect(lines.filter((line) => line.includes('"status":415'))).toHaveLength(20);
  });
});

function mib(bytes: number): string {
  return (bytes / MiB).toFixed(0);
}
