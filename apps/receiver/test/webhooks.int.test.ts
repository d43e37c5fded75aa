import {
  currentCustomer,
  customerEvent,
  docsCustomerCreatedAsPrinted,
  FAMILY_FIXTURES,
  legacyCustomer,
} from '@flexprice/contracts/fixtures';
import { metricValue, redisTest } from '@flexprice/testing';
import { Worker } from 'bullmq';
import { describe, expect } from 'vitest';
import {
  OTHER_SECRET,
  SECRET,
  STATIC_HEADER,
  STATIC_TOKEN,
  signedHeaders,
  startReceiver,
  type TestReceiver,
} from './support.js';

/** A test with a receiver of its own (own queue prefix), closed when the test ends. */
const test = redisTest.extend('receiver', async ({ redis }, { onCleanup }) => {
  const receiver = await startReceiver(redis.url, {
    FLEXPRICE_WEBHOOK_AUTH_HEADER: STATIC_HEADER,
    FLEXPRICE_WEBHOOK_AUTH_TOKEN: STATIC_TOKEN,
    MAX_BODY_BYTES: '4096',
  });
  onCleanup(() => receiver.close());
  return receiver;
});

const customerBody = (overrides: Record<string, unknown> = {}) =>
  JSON.stringify(customerEvent('customer.created', currentCustomer(overrides)));

/** What the receiver answers; every field optional, the assertions say which must be there. */
interface Answer {
  status?: string;
  id?: string | null;
  reason?: string;
  error?: string;
  message?: string;
  issues?: { path: string; message: string }[];
}
const read = async (res: Response): Promise<Answer> => (await res.json()) as Answer;

/** Sends a customer event natively (the static header, no delivery id) and reads the answer. */
const sendNative = async (
  receiver: TestReceiver,
  type: 'customer.created' | 'customer.updated',
  customer: Record<string, unknown>,
) =>
  read(
    await receiver.post('/webhooks/flexprice', JSON.stringify(customerEvent(type, currentCustomer(customer))), {
      'content-type': 'application/json',
      [STATIC_HEADER]: STATIC_TOKEN,
    }),
  );

async function counts(receiver: TestReceiver, queue = 'flexprice.customer') {
  return receiver.queue(queue).getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
}

async function waitingJobs(receiver: TestReceiver, queue = 'flexprice.customer') {
  return receiver.queue(queue).getJobs(['waiting']);
}

describe('a genuine delivery', () => {
  test('is queued with its receipt, retry policy and the validated event', async ({ receiver }) => {
    const body = customerBody();
    const headers = signedHeaders(body, { id: 'msg_first' });
    const res = await receiver.post('/webhooks/flexprice', body, { ...headers, 'x-request-id': 'req-42' });
    expect(res.status).toBe(202);
    const answer = await read(res);
    expect(answer).toEqual({ status: 'queued', id: expect.any(String) });
    expect(res.headers.get('x-request-id')).toBe('req-42');

    const job = await receiver.queue('flexprice.customer').getJob(String(answer.id));
    expect(job?.name).toBe('customer.created');
    expect(job?.data).toEqual({
      eventType: 'customer.created',
      event: JSON.parse(body),
      receipt: {
        receivedAt: expect.any(String),
        deliveryId: 'msg_first',
        idempotencyKey: 'id-msg_first',
        requestId: 'req-42',
        inferredEventType: false,
        acceptedAt: expect.stringMatching(/^\d{17}$/),
      },
    });
    expect(job?.opts).toMatchObject({
      attempts: 10,
      backoff: { type: 'flexprice-exponential', delay: 1000 },
      removeOnFail: false,
    });
  });

  test('is accepted with webhook-* headers as well as svix-* ones', async ({ receiver }) => {
    const body = customerBody({ id: 'cust_webhook_family' });
    const res = await receiver.post('/webhooks/flexprice', body, signedHeaders(body, { family: 'webhook' }));
    expect(res.status).toBe(202);
    expect(await read(res)).toMatchObject({ status: 'queued' });
  });

  test('signed with either of two rotated secrets passes', async ({ receiver }) => {
    for (const secret of [SECRET, OTHER_SECRET]) {
      const body = customerBody({ id: `cust_${secret.slice(6, 12)}` });
      const res = await receiver.post('/webhooks/flexprice', body, signedHeaders(body, { secret }));
      expect(res.status).toBe(202);
    }
    expect((await counts(receiver)).waiting).toBe(2);
  });

  test('in self-hosted mode, the static header is enough', async ({ receiver }) => {
    const body = customerBody();
    const res = await receiver.post('/webhooks/flexprice', body, {
      'content-type': 'application/json',
      [STATIC_HEADER]: STATIC_TOKEN,
    });
    expect(res.status).toBe(202);
    const [job] = await waitingJobs(receiver);
    expect(job?.data.receipt).toMatchObject({
      deliveryId: null,
      idempotencyKey: expect.stringMatching(/^nat-[0-9a-f]{40}$/),
    });
  });

  test('both customer generations are queued; a legacy body keeps its fields', async ({ receiver }) => {
    const body = JSON.stringify(customerEvent('customer.updated', legacyCustomer()));
    const res = await receiver.post('/webhooks/flexprice', body, signedHeaders(body));
    expect(res.status).toBe(202);
    const [job] = await waitingJobs(receiver);
    expect(job?.data.event.customer).toMatchObject({ tenant_id: expect.any(String), metadata: null });
  });

  test('POST /webhook-events/:eventType takes the same delivery when the path matches', async ({ receiver }) => {
    const body = customerBody();
    const res = await receiver.post('/webhook-events/customer.created', body, signedHeaders(body));
    expect(res.status).toBe(202);
  });
});

describe('authentication', () => {
  const body = customerBody();
  const now = Math.floor(Date.now() / 1000);
  const cases: [string, () => Record<string, string>][] = [
    ['no credentials', () => ({ 'content-type': 'application/json' })],
    [
      'a signature made with another secret',
      () => signedHeaders(body, { secret: 'whsec_dGhpcyBpcyBub3QgdGhlIHNlY3JldA==' }),
    ],
    ['a signature over another body', () => signedHeaders(customerBody({ name: 'Mallory' }))],
    ['a timestamp older than 5 minutes', () => signedHeaders(body, { timestampSeconds: now - 301 - 5 })],
    ['a timestamp more than 5 minutes ahead', () => signedHeaders(body, { timestampSeconds: now + 301 + 5 })],
    ['a wrong static token', () => ({ 'content-type': 'application/json', [STATIC_HEADER]: `${STATIC_TOKEN}x` })],
    ['the static token in another header', () => ({ 'content-type': 'application/json', 'x-token': STATIC_TOKEN })],
  ];

  test.for(cases)('%s is refused with 401 and nothing is queued', async ([, headers], { receiver }) => {
    const res = await receiver.post('/webhooks/flexprice', body, headers());
    expect(res.status).toBe(401);
    expect(await read(res)).toEqual({ error: 'unauthorized', message: 'missing or invalid webhook credentials' });
    expect((await counts(receiver)).waiting).toBe(0);
  });

  test('a tampered body (one byte changed after signing) is refused', async ({ receiver }) => {
    const headers = signedHeaders(body);
    const tampered = body.replace('Acme Inc', 'Acme Inx');
    expect((await receiver.post('/webhooks/flexprice', tampered, headers)).status).toBe(401);
  });

  test('a timestamp within tolerance on either side passes', async ({ receiver }) => {
    for (const offset of [-290, 290]) {
      const signed = customerBody({ id: `cust_offset_${offset}` });
      const headers = signedHeaders(signed, { timestampSeconds: Math.floor(Date.now() / 1000) + offset });
      expect((await receiver.post('/webhooks/flexprice', signed, headers)).status).toBe(202);
    }
  });
});

describe('bad input gets a clear error and no job', () => {
  test('400 for malformed JSON', async ({ receiver }) => {
    const body = '{"event_type": "customer.created", ';
    const res = await receiver.post('/webhooks/flexprice', body, signedHeaders(body));
    expect(res.status).toBe(400);
    expect(await read(res)).toMatchObject({ error: 'malformed_json' });
    expect((await counts(receiver)).waiting).toBe(0);
  });

  test('400 when the path names another event type than the body', async ({ receiver }) => {
    const body = customerBody();
    const res = await receiver.post('/webhook-events/customer.updated', body, signedHeaders(body));
    expect(res.status).toBe(400);
    expect(await read(res)).toMatchObject({ error: 'event_type_mismatch' });
    expect((await counts(receiver)).waiting).toBe(0);
  });

  test('413 over MAX_BODY_BYTES', async ({ receiver }) => {
    const body = customerBody({ metadata: { padding: 'x'.repeat(5000) } });
    const res = await receiver.post('/webhooks/flexprice', body, signedHeaders(body));
    expect(res.status).toBe(413);
    expect(await read(res)).toMatchObject({ error: 'payload_too_large' });
    expect((await counts(receiver)).waiting).toBe(0);
  });

  test('413 for a chunked body that grows over MAX_BODY_BYTES, and the connection is closed', async ({ receiver }) => {
    const body = customerBody({ metadata: { padding: 'x'.repeat(5000) } });
    const bytes = new TextEncoder().encode(body);
    // No content-length: the limit has to hold on the bytes as they arrive.
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < bytes.length; at += 1000) controller.enqueue(bytes.slice(at, at + 1000));
        controller.close();
      },
    });
    const res = await fetch(`${receiver.url}/webhooks/flexprice`, {
      method: 'POST',
      body: chunks,
      headers: signedHeaders(body),
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(res.headers.get('connection')).toBe('close');
    expect(await read(res)).toMatchObject({ error: 'payload_too_large' });
    expect((await counts(receiver)).waiting).toBe(0);
  });

  test('400, not 500, for a malformed %-escape in the event type path', async ({ receiver }) => {
    const body = customerBody();
    for (const path of ['/webhook-events/%E0%A4%A', '/webhook-events/%']) {
      const res = await receiver.post(path, body, signedHeaders(body));
      expect(res.status).toBe(400);
      expect(await read(res)).toMatchObject({ error: 'bad_request' });
      expect(res.headers.get('x-request-id')).toBeTruthy();
    }
    expect((await counts(receiver)).waiting).toBe(0);
  });

  test.for([
    ['a compressed body, even when correctly signed', { 'content-encoding': 'gzip' }],
    ['a body that is not declared JSON', { 'content-type': 'text/plain' }],
  ] as const)('415 for %s', async ([, header], { receiver }) => {
    const body = customerBody();
    const res = await receiver.post('/webhooks/flexprice', body, { ...signedHeaders(body), ...header });
    expect(res.status).toBe(415);
    expect(await read(res)).toMatchObject({ error: 'unsupported_media_type' });
    expect((await counts(receiver)).waiting).toBe(0);
  });

  test('422 with the path of each problem for a schema-invalid customer event', async ({ receiver }) => {
    const body = JSON.stringify({
      event_type: 'customer.created',
      customer: { ...currentCustomer({ name: '' }), external_id: undefined },
    });
    const res = await receiver.post('/webhooks/flexprice', body, signedHeaders(body));
    expect(res.status).toBe(422);
    const answer = await read(res);
    expect(answer.error).toBe('invalid_event');
    expect(answer.issues?.map((issue) => issue.path).sort()).toEqual(['customer.external_id', 'customer.name']);
    expect((await counts(receiver)).waiting).toBe(0);
  });

  test('422 for an event_type that is present but not a string', async ({ receiver }) => {
    const body = JSON.stringify({ event_type: 42, customer: currentCustomer() });
    const res = await receiver.post('/webhooks/flexprice', body, signedHeaders(body));
    expect(res.status).toBe(422);
    expect(await read(res)).toMatchObject({ issues: [{ path: 'event_type' }] });
    expect((await counts(receiver)).waiting).toBe(0);
  });
});

describe('what is not queued is acknowledged and ignored', () => {
  test('an unknown event type', async ({ receiver }) => {
    const body = JSON.stringify({ event_type: 'refund.created', refund: { id: 'ref_1' } });
    const res = await receiver.post('/webhooks/flexprice', body, signedHeaders(body));
    expect(res.status).toBe(202);
    expect(await read(res)).toEqual({ status: 'ignored', id: null, reason: 'unknown_event_type' });
  });

  test('a known type outside ENQUEUE_EVENTS (default customer.*)', async ({ receiver }) => {
    const body = JSON.stringify(FAMILY_FIXTURES.invoice[0]);
    const res = await receiver.post('/webhooks/flexprice', body, signedHeaders(body));
    expect(await read(res)).toEqual({ status: 'ignored', id: null, reason: 'not_routed' });
    expect((await counts(receiver, 'flexprice.invoice')).waiting).toBe(0);
  });

  test('the documented example as printed is never queued as a customer event', async ({ receiver }) => {
    const body = JSON.stringify(docsCustomerCreatedAsPrinted());
    const res = await receiver.post('/webhooks/flexprice', body, signedHeaders(body));
    expect(await read(res)).toMatchObject({ status: 'ignored', reason: 'not_routed' });
    expect((await counts(receiver)).waiting).toBe(0);
  });

  test('an authenticated empty body (a wallet-balance alert that lost its ids)', async ({ receiver }) => {
    const res = await receiver.post('/webhooks/flexprice', '', { [STATIC_HEADER]: STATIC_TOKEN });
    expect(res.status).toBe(202);
    expect(await read(res)).toMatchObject({ status: 'ignored', reason: 'empty_body' });
  });
});

redisTest('with every event routed, the documented example as printed is refused with 422', async ({ redis }) => {
  const receiver = await startReceiver(redis.url, { ENQUEUE_EVENTS: '*', FORWARD_ROUTES: '*=http://127.0.0.1:9/all' });
  try {
    const body = JSON.stringify(docsCustomerCreatedAsPrinted());
    const res = await receiver.post('/webhooks/flexprice', body, signedHeaders(body));
    expect(res.status).toBe(422);
    expect(await read(res)).toMatchObject({ issues: [{ path: 'subscription' }] });
    expect((await counts(receiver, 'flexprice.subscription')).waiting).toBe(0);
    expect((await counts(receiver)).waiting).toBe(0);
  } finally {
    await receiver.close();
  }
});

redisTest('a natively delivered spend alert (no event_type) is queued under its inferred type', async ({ redis }) => {
  const receiver = await startReceiver(redis.url, {
    ENQUEUE_EVENTS: 'subscription.*',
    FORWARD_ROUTES: 'subscription.*=http://127.0.0.1:9/subscriptions',
  });
  try {
    const body = JSON.stringify(FAMILY_FIXTURES.spend_alert[0]);
    const res = await receiver.post('/webhooks/flexprice', body, signedHeaders(body));
    expect(res.status).toBe(202);
    const [job] = await receiver.queue('flexprice.spend_alert').getJobs(['waiting']);
    expect(job?.name).toBe('subscription.line_item_spend.threshold_reached');
    expect(job?.data.receipt.inferredEventType).toBe(true);
  } finally {
    await receiver.close();
  }
});

describe('idempotency', () => {
  test('a redelivery with the same svix-id is a duplicate of the first job', async ({ receiver }) => {
    const body = customerBody();
    const first = await read(await receiver.post('/webhooks/flexprice', body, signedHeaders(body, { id: 'msg_dup' })));
    // Svix signs each attempt anew (new timestamp), the id stays.
    const again = signedHeaders(body, { id: 'msg_dup', timestampSeconds: Math.floor(Date.now() / 1000) - 60 });
    const second = await receiver.post('/webhooks/flexprice', body, again);
    expect(second.status).toBe(202);
    expect(await read(second)).toEqual({ status: 'duplicate', id: first.id });
    expect((await counts(receiver)).waiting).toBe(1);
  });

  test('natively, the same bytes twice are one job; other bytes are another', async ({ receiver }) => {
    const headers = { 'content-type': 'application/json', [STATIC_HEADER]: STATIC_TOKEN };
    const body = customerBody();
    const first = await read(await receiver.post('/webhooks/flexprice', body, headers));
    expect(await read(await receiver.post('/webhooks/flexprice', body, headers))).toEqual({
      status: 'duplicate',
      id: first.id,
    });
    const changed = await read(await receiver.post('/webhooks/flexprice', customerBody({ name: 'Acme 2' }), headers));
    expect(changed.status).toBe('queued');
    expect((await counts(receiver)).waiting).toBe(2);
  });

  test('natively, a return to an earlier state is queued: W, X, Y, X, Y are five jobs, a repeat of the last is not', async ({
    receiver,
  }) => {
    const headers = { 'content-type': 'application/json', [STATIC_HEADER]: STATIC_TOKEN };
    const send = (type: 'customer.created' | 'customer.updated', name: string) => sendNative(receiver, type, { name });
    const answers = [await send('customer.created', 'W')];
    for (const name of ['X', 'Y', 'X', 'Y']) answers.push(await send('customer.updated', name));
    expect(answers.map((answer) => answer.status)).toEqual(['queued', 'queued', 'queued', 'queued', 'queued']);
    const retry = await send('customer.updated', 'Y');
    expect(retry).toEqual({ status: 'duplicate', id: answers[4]?.id });

    const jobs = await waitingJobs(receiver);
    expect(jobs).toHaveLength(5);
    const keys = jobs.map((job) => job.data.receipt.idempotencyKey);
    expect(new Set(keys).size).toBe(5);
    // Another customer's X is its own state, not a duplicate of this one's.
    const other = await receiver.post(
      '/webhooks/flexprice',
      JSON.stringify(customerEvent('customer.updated', currentCustomer({ id: 'cust_other', name: 'X' }))),
      headers,
    );
    expect(await read(other)).toMatchObject({ status: 'queued' });
  });

  test('natively, a delivery whose job could not be written is no duplicate of anything: its retry is queued', async ({
    receiver,
  }) => {
    const headers = { 'content-type': 'application/json', [STATIC_HEADER]: STATIC_TOKEN };
    const send = async (name: string) => {
      const body = JSON.stringify(customerEvent('customer.updated', currentCustomer({ name })));
      const res = await receiver.post('/webhooks/flexprice', body, headers);
      return { status: res.status, answer: (await read(res)).status };
    };
    expect(await send('X')).toEqual({ status: 202, answer: 'queued' });
    // BullMQ's add fails after the delivery was accepted (its mark written): a queue key of the
    // wrong type stands in for Redis failing between the two commands.
    const meta = `${receiver.prefix}:flexprice.customer:meta`;
    const saved = await receiver.connection.hgetall(meta);
    await receiver.connection.del(meta);
    await receiver.connection.set(meta, 'not a hash');
    expect((await send('Y')).status).toBe(500);
    await receiver.connection.del(meta);
    await receiver.connection.hset(meta, saved);

    expect(await send('Y')).toEqual({ status: 202, answer: 'queued' });
    expect(await send('Y')).toEqual({ status: 202, answer: 'duplicate' });
    expect(await send('X')).toEqual({ status: 202, answer: 'queued' });
    const names = (await waitingJobs(receiver)).map((job) => job.data.event.customer.name).sort();
    expect(names).toEqual(['X', 'X', 'Y']);
  });

  test('every job is stamped with Redis time at acceptance, later for a delivery sent after a 202', async ({
    receiver,
  }) => {
    const stamps: string[] = [];
    for (const name of ['A', 'B', 'C']) {
      const body = customerBody({ name });
      const answer = await read(await receiver.post('/webhooks/flexprice', body, signedHeaders(body)));
      const job = await receiver.queue('flexprice.customer').getJob(String(answer.id));
      stamps.push(String(job?.data.receipt.acceptedAt));
    }
    const [seconds] = await receiver.connection.time();
    expect(stamps.every((stamp) => /^\d{17}$/.test(stamp))).toBe(true);
    expect([...stamps].sort()).toEqual(stamps);
    expect(new Set(stamps).size).toBe(3);
    expect(Math.abs(Number(stamps[2]?.slice(0, 11)) - Number(seconds))).toBeLessThanOrEqual(2);
  });
});

test('deliveries accepted at once each get a stamp of their own', async ({ receiver }) => {
  const answers = await Promise.all(
    Array.from({ length: 50 }, async (_, i) => {
      const body = customerBody({ id: `cust_together_${i}` });
      return read(await receiver.post('/webhooks/flexprice', body, signedHeaders(body)));
    }),
  );
  const queue = receiver.queue('flexprice.customer');
  const stamps = await Promise.all(
    answers.map(async (a) => (await queue.getJob(String(a.id)))?.data.receipt.acceptedAt),
  );
  expect(answers.every((a) => a.status === 'queued')).toBe(true);
  expect(new Set(stamps).size).toBe(50);
  expect(stamps.every((stamp) => /^\d{17}$/.test(String(stamp)))).toBe(true);
});

test('natively, copies of one delivery arriving together are one job', async ({ receiver }) => {
  const headers = { 'content-type': 'application/json', [STATIC_HEADER]: STATIC_TOKEN };
  const body = customerBody({ id: 'cust_copies', name: 'Copied' });
  const answers = await Promise.all(
    [1, 2, 3].map(async () => read(await receiver.post('/webhooks/flexprice', body, headers))),
  );
  expect(answers.map((a) => a.status).sort()).toEqual(['duplicate', 'duplicate', 'queued']);
  expect(new Set(answers.map((a) => a.id)).size).toBe(1);
  expect((await waitingJobs(receiver)).filter((job) => job.data.event.customer.id === 'cust_copies')).toHaveLength(1);
});

test('natively, the latest delivery is per customer, whatever the event type: updated X, created Y, updated X are three jobs', async ({
  receiver,
}) => {
  const send = (type: 'customer.created' | 'customer.updated', name: string) =>
    sendNative(receiver, type, { id: 'cust_types', name });
  const answers = [
    await send('customer.updated', 'X'),
    await send('customer.created', 'Y'),
    await send('customer.updated', 'X'),
  ];
  expect(answers.map((a) => a.status)).toEqual(['queued', 'queued', 'queued']);
  // The same bytes under another event type are another delivery.
  expect((await send('customer.created', 'X')).status).toBe('queued');
  expect((await send('customer.created', 'X')).status).toBe('duplicate');
});

redisTest(
  "acceptance times never go back, even when Redis' clock does (NTP step, failover to a slower clock)",
  async ({ redis }) => {
    const receiver = await startReceiver(redis.url);
    try {
      // The queue's clock says a minute from now: as if Redis' TIME had just stepped back by that much.
      const ahead = String((Date.now() + 60_000) * 1000).padStart(17, '0');
      await receiver.connection.set(`${receiver.prefix}:flexprice.customer:clock`, ahead);
      const stamps: string[] = [];
      for (const name of ['A', 'B']) {
        const body = customerBody({ name });
        const answer = await read(await receiver.post('/webhooks/flexprice', body, signedHeaders(body)));
        stamps.push(
          String((await receiver.queue('flexprice.customer').getJob(String(answer.id)))?.data.receipt.acceptedAt),
        );
      }
      expect(stamps).toEqual([
        String(BigInt(ahead) + 1n).padStart(17, '0'),
        String(BigInt(ahead) + 2n).padStart(17, '0'),
      ]);
    } finally {
      await receiver.close();
    }
  },
);

describe('bodies that cannot be queued as they are', () => {
  // Built as text: JSON.stringify itself overflows on such a value, which is the point.
  const deep = (levels: number) =>
    JSON.stringify(customerEvent('customer.created', currentCustomer({ extra: 'DEEP' }))).replace(
      '"DEEP"',
      `${'['.repeat(levels)}${']'.repeat(levels)}`,
    );

  // The default MAX_BODY_BYTES (1 MiB): 10,000 levels do not fit the 4 KiB of the other tests.
  const roomy = redisTest.extend('receiver', async ({ redis }, { onCleanup }) => {
    const receiver = await startReceiver(redis.url);
    onCleanup(() => receiver.close());
    return receiver;
  });

  roomy(
    'a signed body nested 10,000 levels deep is a 422 naming the limit, with no job and no 503',
    async ({ receiver }) => {
      const body = deep(10_000);
      const res = await receiver.post('/webhooks/flexprice', body, signedHeaders(body));
      expect(res.status).toBe(422);
      expect(res.headers.get('retry-after')).toBeNull();
      expect(await read(res)).toMatchObject({
        error: 'invalid_event',
        issues: [{ path: '', message: 'nests deeper than 64 levels of objects and arrays' }],
      });
      expect((await counts(receiver)).waiting).toBe(0);
    },
  );

  test('a Redis error that is not an outage (a key of the wrong type) is a 500, never a 503 blaming Redis', async ({
    receiver,
  }) => {
    const id = 'cust_wrongtype';
    await receiver.connection.hset(`${receiver.prefix}:flexprice.customer:latest:${id}`, 'x', '1');
    const res = await receiver.post('/webhooks/flexprice', customerBody({ id }), {
      'content-type': 'application/json',
      [STATIC_HEADER]: STATIC_TOKEN,
    });
    expect(res.status).toBe(500);
    expect(res.headers.get('retry-after')).toBeNull();
    expect(await read(res)).toMatchObject({ error: 'internal' });
    expect((await counts(receiver)).waiting).toBe(0);
  });

  test('up to the limit it is queued (the body is level 1, the customer 2, its field 3 and on)', async ({
    receiver,
  }) => {
    const body = deep(62);
    const res = await receiver.post('/webhooks/flexprice', body, signedHeaders(body));
    expect(res.status).toBe(202);
    const tooDeep = deep(63);
    expect((await receiver.post('/webhooks/flexprice', tooDeep, signedHeaders(tooDeep))).status).toBe(422);
  });
});

redisTest('a duplicate stays a duplicate after the first job completed and was removed', async ({ redis }) => {
  const receiver = await startReceiver(redis.url, { JOB_KEEP_COMPLETED: '0' });
  const worker = new Worker('flexprice.customer', async () => 'done', {
    connection: { url: redis.url },
    prefix: receiver.prefix,
  });
  try {
    const body = customerBody();
    const headers = () => signedHeaders(body, { id: 'msg_completed' });
    const first = await read(await receiver.post('/webhooks/flexprice', body, headers()));
    const queue = receiver.queue('flexprice.customer');
    await expect.poll(async () => queue.getJob(String(first.id)), { timeout: 10_000 }).toBeUndefined();

    const second = await receiver.post('/webhooks/flexprice', body, headers());
    expect(await read(second)).toEqual({ status: 'duplicate', id: first.id });
    expect(await queue.getJobCounts('waiting', 'active', 'completed')).toEqual({ waiting: 0, active: 0, completed: 0 });
  } finally {
    await worker.close();
    await receiver.close();
  }
});

describe('health', () => {
  test('/healthz and /readyz answer while Redis is up; other paths are 404, /metrics too (it is on the metrics port)', async ({
    receiver,
  }) => {
    expect(await (await fetch(`${receiver.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${receiver.url}/readyz`);
    expect([ready.status, await ready.json()]).toEqual([200, { status: 'ready' }]);
    expect((await fetch(`${receiver.url}/admin/queues`)).status).toBe(404);
    expect((await fetch(`${receiver.url}/metrics`)).status).toBe(404);
    const metrics = await fetch(`${receiver.metricsUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('flexprice_webhook_requests_total');
    // The metrics port serves the ops endpoints only.
    expect((await fetch(`${receiver.metricsUrl}/webhooks/flexprice`, { method: 'POST' })).status).toBe(404);
  });

  test('the paths Express also matches (case, trailing slash) and HEAD are answered, never left hanging', async ({
    receiver,
  }) => {
    for (const path of ['/HEALTHZ', '/healthz/', '/ReadyZ']) {
      expect((await fetch(`${receiver.url}${path}`, { signal: AbortSignal.timeout(5_000) })).status, path).toBe(200);
    }
    for (const path of ['/metrics/', '/METRICS']) {
      expect((await fetch(`${receiver.url}${path}`, { signal: AbortSignal.timeout(5_000) })).status, path).toBe(404);
    }
    const head = await fetch(`${receiver.url}/readyz`, { method: 'HEAD', signal: AbortSignal.timeout(5_000) });
    expect([head.status, await head.text()]).toEqual([200, '']);
  });
});

describe('metrics', () => {
  test('GET /metrics counts each outcome exactly, by event type', async ({ receiver }) => {
    const scrape = async () => (await fetch(`${receiver.metricsUrl}/metrics`)).text();
    const before = await scrape();
    const send = (body: string, headers: Record<string, string>) => receiver.post('/webhooks/flexprice', body, headers);
    const customer = (id: string) => customerBody({ id });

    await send(customer('cust_m1'), signedHeaders(customer('cust_m1'), { id: 'msg_m1' }));
    await send(customer('cust_m2'), signedHeaders(customer('cust_m2'), { id: 'msg_m2' }));
    await send(customer('cust_m1'), signedHeaders(customer('cust_m1'), { id: 'msg_m1' })); // duplicate
    const unknown = JSON.stringify({ event_type: 'refund.created' });
    await send(unknown, signedHeaders(unknown));
    const unrouted = JSON.stringify(FAMILY_FIXTURES.invoice[0]);
    await send(unrouted, signedHeaders(unrouted));
    await send(customer('cust_m3'), { 'content-type': 'application/json' }); // unauthorized
    await send('{"event_type":', signedHeaders('{"event_type":')); // malformed
    const invalid = customerBody({ name: '' });
    await send(invalid, signedHeaders(invalid));
    const huge = customerBody({ metadata: { padding: 'x'.repeat(5000) } });
    await send(huge, signedHeaders(huge));

    const after = await scrape();
    const delta = (labels: Record<string, string>) =>
      metricValue(after, 'flexprice_webhook_requests_total', labels) -
      metricValue(before, 'flexprice_webhook_requests_total', labels);
    expect({
      queued: delta({ event_type: 'customer.created', outcome: 'queued' }),
      duplicate: delta({ event_type: 'customer.created', outcome: 'duplicate' }),
      unknown: delta({ event_type: 'unknown', outcome: 'ignored' }),
      notRouted: delta({ event_type: 'invoice.update.finalized', outcome: 'ignored' }),
      unauthorized: delta({ event_type: 'none', outcome: 'unauthorized' }),
      malformed: delta({ event_type: 'none', outcome: 'invalid' }),
      schemaInvalid: delta({ event_type: 'customer.created', outcome: 'invalid' }),
      tooLarge: delta({ outcome: 'too_large' }),
      all: delta({}),
    }).toEqual({
      queued: 2,
      duplicate: 1,
      unknown: 1,
      notRouted: 1,
      unauthorized: 1,
      malformed: 1,
      schemaInvalid: 1,
      tooLarge: 1,
      all: 9,
    });
    const histogram = (name: string) => metricValue(after, name) - metricValue(before, name);
    expect(histogram('flexprice_webhook_request_duration_seconds_count')).toBe(9);
    expect(histogram('flexprice_webhook_enqueue_duration_seconds_count')).toBe(3);
    expect(metricValue(after, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });
});
