// Hostile input, generated: thousands of invalid or adversarial requests against a real receiver on
// a real Redis. Invariants: never a 5xx, never a job for an invalid or unauthenticated request, an
// answer within a bound, and a healthy process afterwards. HOSTILE_RUNS sets the count (CI: 10,000;
// `pnpm test:soak`: more).
import { createHmac } from 'node:crypto';
import { connect } from 'node:net';
import { parseWebhookEvent } from '@flexprice/contracts';
import { currentCustomer, customerEvent, legacyCustomer } from '@flexprice/contracts/fixtures';
import { redisTest } from '@flexprice/testing';
import fc from 'fast-check';
import { describe, expect } from 'vitest';
import { SECRET, STATIC_HEADER, STATIC_TOKEN, signedHeaders, startReceiver } from './support.js';

const RUNS = Number(process.env.HOSTILE_RUNS ?? 10_000);
const ANSWER_WITHIN_MS = 2_000;
const KEY = Buffer.from(SECRET.slice('whsec_'.length), 'base64');

/** Bodies: broken JSON, valid JSON of the wrong shape, valid events with one field corrupted. */
const validEvent = fc.constantFrom(
  () => customerEvent('customer.created', currentCustomer()),
  () => customerEvent('customer.updated', legacyCustomer()),
);
const corrupt = fc.record({
  make: validEvent,
  field: fc.constantFrom(
    'id',
    'external_id',
    'environment_id',
    'name',
    'email',
    'metadata',
    'tenant_id',
    'status',
    'updated_at',
  ),
  value: fc.oneof(
    fc.constant(''),
    fc.constant(null),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.array(fc.anything(), { maxLength: 3 }),
    fc.dictionary(fc.string(), fc.anything(), { maxKeys: 3 }),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
  ),
});
const body = fc.oneof(
  // Not JSON at all, or truncated JSON.
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  validEvent.chain((make) => fc.nat({ max: 400 }).map((n) => JSON.stringify(make()).slice(0, n))),
  // Deep nesting and big (but in-limit) payloads.
  fc.integer({ min: 100, max: 20_000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
  fc
    .integer({ min: 100, max: 5_000 })
    .map((depth) => `{"event_type":"customer.created","customer":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`),
  fc
    .integer({ min: 1, max: 50_000 })
    .map((n) => JSON.stringify({ event_type: 'customer.created', customer: Array(n).fill(0) })),
  fc
    .integer({ min: 1, max: 200_000 })
    .map((n) => JSON.stringify(customerEvent('customer.created', currentCustomer({ name: 'x'.repeat(n) })))),
  // Anything JSON, and event_type of every type.
  fc.jsonValue().map((value) => JSON.stringify(value)),
  fc.anything().map((value) => JSON.stringify({ event_type: value, customer: currentCustomer() }) ?? 'null'),
  // One field of a valid event with a wrong value.
  corrupt.map(({ make, field, value }) => {
    const event = make();
    (event.customer as Record<string, unknown>)[field] = value;
    return JSON.stringify(event);
  }),
  // Prototype keys, duplicate keys (the last one wins in JSON.parse), unicode edge cases.
  fc.constantFrom(
    '{"__proto__":{"polluted":true},"event_type":"customer.created","customer":{"__proto__":{"id":"x"}}}',
    '{"constructor":{"prototype":{"polluted":true}},"event_type":"customer.created"}',
    '{"event_type":"customer.created","event_type":"customer.deleted","customer":{"id":"c","external_id":"e","environment_id":"env","name":"n","id":""}}',
    '{"event_type":"customer.created","customer":{"id":"\\ud800","external_id":"\\u0000","environment_id":"\\uffff","name":"\\u202e"}}',
    '\ufeff{"event_type":"customer.created"}',
  ),
  // Valid ones too: the invariants must hold for them as well (they are the only ones queued).
  validEvent.map((make) => JSON.stringify(make())),
);

type Auth =
  | 'signed'
  | 'signed-other-body'
  | 'stale'
  | 'future'
  | 'edge'
  | 'static'
  | 'wrong-static'
  | 'none'
  | 'garbage'
  | 'duplicated';
const request = fc.record({
  body,
  auth: fc.constantFrom<Auth>(
    'signed',
    'signed',
    'signed-other-body',
    'stale',
    'future',
    'edge',
    'static',
    'wrong-static',
    'none',
    'garbage',
    'duplicated',
  ),
  contentType: fc.constantFrom<string | undefined>(
    'application/json',
    'application/json; charset=utf-8',
    'text/plain',
    undefined,
    'application/json, text/plain',
    'application/x-www-form-urlencoded',
    'APPLICATION/JSON',
  ),
  id: fc.constantFrom('msg_fixed_replayed', 'msg_a', 'msg_b').chain((base) =>
    fc.oneof(
      fc.constant(base),
      fc.uuid().map((u) => `msg_${u}`),
    ),
  ),
});

const sign = (id: string, seconds: number, bytes: string) =>
  `v1,${createHmac('sha256', KEY).update(`${id}.${seconds}.`).update(bytes).digest('base64')}`;

function headersFor(r: { body: string; auth: Auth; contentType: string | undefined; id: string }) {
  const headers = new Headers();
  if (r.contentType !== undefined) headers.set('content-type', r.contentType);
  const now = Math.floor(Date.now() / 1000);
  const svix = (seconds: number, signature: string) => {
    headers.set('svix-id', r.id);
    headers.set('svix-timestamp', String(seconds));
    headers.set('svix-signature', signature);
  };
  switch (r.auth) {
    case 'signed':
      svix(now, sign(r.id, now, r.body));
      break;
    case 'signed-other-body':
      svix(now, sign(r.id, now, `${r.body} `));
      break;
    case 'stale':
      svix(now - 400, sign(r.id, now - 400, r.body));
      break;
    case 'future':
      svix(now + 400, sign(r.id, now + 400, r.body));
      break;
    case 'edge':
      svix(now - 299, sign(r.id, now - 299, r.body));
      break;
    case 'static':
      headers.set(STATIC_HEADER, STATIC_TOKEN);
      break;
    case 'wrong-static':
      headers.set(STATIC_HEADER, `${STATIC_TOKEN.slice(0, -1)}x`);
      break;
    case 'garbage':
      svix(now, 'v1,AAAA v2,zzz ,, v1,');
      break;
    case 'duplicated':
      svix(now, sign(r.id, now, r.body));
      headers.append('svix-signature', sign(r.id, now, 'other'));
      headers.append('svix-id', 'msg_other');
      break;
    case 'none':
      break;
  }
  return headers;
}

/** Whether we, independently of the receiver, consider the request authentic. */
function authentic(r: { auth: Auth }): boolean {
  return r.auth === 'signed' || r.auth === 'edge' || r.auth === 'static';
}

const test = redisTest.extend('receiver', async ({ redis }, { onCleanup }) => {
  const receiver = await startReceiver(redis.url, {
    FLEXPRICE_WEBHOOK_AUTH_HEADER: STATIC_HEADER,
    FLEXPRICE_WEBHOOK_AUTH_TOKEN: STATIC_TOKEN,
    MAX_BODY_BYTES: String(256 * 1024),
    REQUEST_TIMEOUT_MS: '1000',
    MAX_HEADER_BYTES: '8192',
    // Redis on a loaded two-core machine (the whole suite at once) can take over a second for a
    // batch: a 503 then is the receiver doing its job, not the bug this test looks for. Still
    // within the answer bound below.
    ENQUEUE_TIMEOUT_MS: '1500',
  });
  onCleanup(() => receiver.close());
  return receiver;
});

describe(`hostile input (${RUNS} generated requests)`, () => {
  test('never a 5xx, never a job for what is invalid or unauthenticated, always a prompt answer', {
    timeout: 600_000,
  }, async ({ receiver }) => {
    const statuses = new Map<number, number>();
    const queued = new Map<string, string>(); // job id → body
    let slowest = 0;
    const samples = fc.sample(request, { numRuns: RUNS, seed: Number(process.env.HOSTILE_SEED ?? 42) });
    for (let i = 0; i < samples.length; i += 25) {
      await Promise.all(
        samples.slice(i, i + 25).map(async (r) => {
          const started = performance.now();
          const res = await fetch(`${receiver.url}/webhooks/flexprice`, {
            method: 'POST',
            body: r.body,
            headers: headersFor(r),
          });
          const answer = (await res.json()) as { status?: string; id?: string };
          slowest = Math.max(slowest, performance.now() - started);
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          expect(res.status, `${r.auth} ${r.contentType} ${r.body.slice(0, 80)}`).toBeLessThan(500);
          if (res.status === 202 && answer.status === 'queued' && answer.id) {
            // Queued: it must be authentic, JSON, and a valid event by our own reading.
            expect(authentic(r), r.auth).toBe(true);
            expect(parseWebhookEvent(JSON.parse(r.body)).ok).toBe(true);
            queued.set(answer.id, r.body);
          }
          if (!authentic(r)) expect(res.status).toBe(401);
        }),
      );
    }
    console.info(
      `hostile input: ${samples.length} requests, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}, ` +
        `${queued.size} queued (all authentic and valid), slowest answer ${slowest.toFixed(0)} ms`,
    );
    expect(slowest).toBeLessThan(ANSWER_WITHIN_MS);
    // Every job in the queue is one we saw answered `queued`: nothing slipped in unanswered.
    const queue = receiver.queue('flexprice.customer');
    const jobs = await queue.getJobs(['waiting'], 0, -1);
    expect(new Set(jobs.map((job) => job.id))).toEqual(new Set(queued.keys()));
    for (const job of jobs) expect(job.data.event).toEqual(JSON.parse(queued.get(job.id ?? '') ?? 'null'));
    // Nothing was polluted, and the process is still fine.
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await fetch(`${receiver.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${receiver.url}/readyz`)).status).toBe(200);
    // The mix really exercised the paths (a generator that degenerated would pass vacuously).
    for (const status of [202, 400, 401, 415, 422])
      expect(statuses.get(status) ?? 0, `status ${status}`).toBeGreaterThan(0);
  });

  test('any path, method and %-escape: never a 5xx, never a job', async ({ receiver }) => {
    const segment = fc.stringMatching(/^[A-Za-z0-9._~%!$&'()*+,;=:@-]{0,40}$/);
    const path = fc.oneof(
      segment.map((s) => `/webhook-events/${s}`),
      fc.array(segment, { maxLength: 4 }).map((parts) => `/${parts.join('/')}`),
      segment.map((s) => `/webhooks/flexprice${s.startsWith('%') ? s : `/${s}`}`),
    );
    const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS');
    const samples = fc.sample(fc.tuple(path, method), { numRuns: Math.min(RUNS, 2_000), seed: 7 });
    const body = JSON.stringify(customerEvent('customer.created', currentCustomer({ id: 'cust_paths' })));
    const statuses = new Set<number>();
    for (let i = 0; i < samples.length; i += 25) {
      await Promise.all(
        samples.slice(i, i + 25).map(async ([p, m]) => {
          const res = await fetch(`${receiver.url}${p}`, {
            method: m,
            ...(m === 'GET' || m === 'OPTIONS' ? {} : { body, headers: { 'content-type': 'application/json' } }),
          });
          await res.arrayBuffer();
          statuses.add(res.status);
          expect(res.status, `${m} ${p}`).toBeLessThan(500);
        }),
      );
    }
    expect(statuses.has(400)).toBe(true); // malformed escapes were among them
    expect((await receiver.queue('flexprice.customer').getJobCounts('waiting')).waiting).toBe(0);
  });

  test('a valid body keeps being accepted after all that (no poisoned state)', async ({ receiver }) => {
    const body = JSON.stringify(customerEvent('customer.created', currentCustomer({ id: 'cust_after_hostile' })));
    const res = await receiver.post('/webhooks/flexprice', body, signedHeaders(body));
    expect(res.status).toBe(202);
  });
});

describe('slow and oversized clients', () => {
  test('a request that has not finished within REQUEST_TIMEOUT_MS is cut off', async ({ receiver }) => {
    const { port } = new URL(receiver.url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    // Slowloris: a request line and one header, then nothing.
    socket.write('POST /webhooks/flexprice HTTP/1.1\r\nHost: x\r\n');
    const started = Date.now();
    const answer = await new Promise<string>((resolve) => {
      let data = '';
      socket.on('data', (chunk) => {
        data += chunk;
      });
      socket.on('close', () => resolve(data));
    });
    const held = Date.now() - started;
    expect(held).toBeLessThan(5_000);
    expect(answer === '' || answer.startsWith('HTTP/1.1 408')).toBe(true);
  });

  test('a body that trickles in too slowly is cut off as well', async ({ receiver }) => {
    const { port } = new URL(receiver.url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      `POST /webhooks/flexprice HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${STATIC_HEADER}: ${STATIC_TOKEN}\r\nContent-Length: 1000\r\n\r\n{`,
    );
    const timer = setInterval(() => socket.write(' '), 200);
    const closed = await new Promise<number>((resolve) => {
      const started = Date.now();
      socket.on('close', () => resolve(Date.now() - started));
      socket.on('error', () => {});
    });
    clearInterval(timer);
    expect(closed).toBeLessThan(5_000);
  });

  test('oversized headers are refused with 431', async ({ receiver }) => {
    const { port } = new URL(receiver.url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(`POST /webhooks/flexprice HTTP/1.1\r\nHost: x\r\nX-Filler: ${'a'.repeat(10_000)}\r\n\r\n`);
    const answer = await new Promise<string>((resolve) => {
      let data = '';
      socket.on('data', (chunk) => {
        data += chunk;
      });
      socket.on('close', () => resolve(data));
      socket.on('error', () => resolve(data));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 431/);
  });
});
