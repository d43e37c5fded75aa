import { currentCustomer, customerEvent } from '@flexprice/contracts/fixtures';
import { metricValue, redisTest as test } from '@flexprice/testing';
import { expect } from 'vitest';
import { signedHeaders, startReceiver } from './support.js';

interface Sent {
  status: number;
  id?: string;
  retryAfter: string | null;
}

test('Redis stopped mid-stream: 503 while down, recovery after restart, every 202 has its job', async ({
  redis,
  skip,
}) => {
  if (!redis.controllable) skip(`Redis from ${redis.source} is shared: the outage test needs one it may stop`);
  const receiver = await startReceiver(redis.url);
  const results: Sent[] = [];
  let sequence = 0;

  async function send(): Promise<Sent> {
    sequence += 1;
    const body = JSON.stringify(customerEvent('customer.created', currentCustomer({ id: `cust_outage_${sequence}` })));
    const res = await receiver.post('/webhooks/flexprice', body, signedHeaders(body));
    const answer = (await res.json()) as { id?: string };
    const sent = { status: res.status, id: answer.id, retryAfter: res.headers.get('retry-after') };
    results.push(sent);
    return sent;
  }
  const burst = (n: number) => Promise.all(Array.from({ length: n }, send));

  const scrape = async () => (await fetch(`${receiver.metricsUrl}/metrics`)).text();
  try {
    const before = await scrape();
    await burst(20);
    // Stop Redis while requests are in flight.
    const inFlight = burst(20);
    await redis.stop();
    await inFlight;

    const refused = await send();
    expect(refused.status).toBe(503);
    expect(refused.retryAfter).toBe('5');
    expect((await fetch(`${receiver.url}/readyz`)).status).toBe(503);

    await redis.start();
    // The receiver recovers by itself: no restart, just its connection coming back.
    await expect.poll(async () => (await send()).status, { timeout: 15_000, interval: 200 }).toBe(202);
    await burst(20);

    const statuses = new Set(results.map((r) => r.status));
    expect([...statuses].every((status) => status === 202 || status === 503)).toBe(true);
    const acknowledged = results.filter((r) => r.status === 202);
    expect(acknowledged.length).toBeGreaterThanOrEqual(41);
    const queue = receiver.queue('flexprice.customer');
    const missing = [];
    for (const { id } of acknowledged) {
      if (!id || !(await queue.getJob(id))) missing.push(id);
    }
    expect(missing).toEqual([]);
    expect((await fetch(`${receiver.url}/readyz`)).status).toBe(200);

    // Every 503 was counted as `unavailable`, every 202 as `queued`.
    const after = await scrape();
    const delta = (outcome: string) =>
      metricValue(after, 'flexprice_webhook_requests_total', { outcome }) -
      metricValue(before, 'flexprice_webhook_requests_total', { outcome });
    expect(delta('unavailable')).toBe(results.filter((r) => r.status === 503).length);
    expect(delta('queued')).toBe(acknowledged.length);
  } finally {
    await receiver.close();
  }
});

test('REDIS_WAIT_REPLICAS above the replicas Redis has: 503 with Retry-After, the redelivery too, and /readyz says why', async ({
  redis,
  skip,
}) => {
  const receiver = await startReceiver(redis.url, { REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '200' });
  try {
    const replication = await receiver.connection.info('replication');
    if (Number(/connected_slaves:(\d+)/.exec(replication)?.[1] ?? 0) > 0) skip('this Redis has a replica');
    const body = JSON.stringify(customerEvent('customer.created', currentCustomer({ id: 'cust_unreplicated' })));
    const headers = signedHeaders(body, { id: 'msg_unreplicated' });
    const started = Date.now();
    const first = await receiver.post('/webhooks/flexprice', body, headers);
    expect([first.status, first.headers.get('retry-after')]).toEqual([503, '5']);
    // It waited for the replica (200 ms), not for the enqueue deadline (1 s).
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    // The job may exist (Redis took it; no replica confirmed it): the retry is a duplicate, still
    // unconfirmed, so still a 503: a 202 would acknowledge what one failover could lose.
    expect(await receiver.queue('flexprice.customer').count()).toBe(1);
    const again = await receiver.post('/webhooks/flexprice', body, headers);
    expect(again.status).toBe(503);
    // The metrics port says why; the webhook port, which faces the internet, only that it is not ready.
    const ready = await fetch(`${receiver.metricsUrl}/readyz`);
    expect([ready.status, await ready.json()]).toEqual([
      503,
      {
        status: 'unavailable',
        problems: ['redis_replicas: the primary has 0 replica(s) online, REDIS_WAIT_REPLICAS is 1'],
      },
    ]);
    const plain = await fetch(`${receiver.url}/readyz`);
    expect([plain.status, await plain.json()]).toEqual([503, { status: 'unavailable' }]);
  } finally {
    await receiver.close();
  }
});
