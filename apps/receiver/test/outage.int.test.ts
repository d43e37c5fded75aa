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

  const scrape = async () => (await fetch(`${receiver.url}/metrics`)).text();
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
