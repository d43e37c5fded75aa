import { startFlexpriceApiStandIn } from '@flexprice/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFlexpriceApi, FlexpriceApiError } from '../src/outbound/flexprice-api.js';

const KEY = 'test-api-key-0123456789';

describe('the Flexprice API client against the stand-in', () => {
  let api: Awaited<ReturnType<typeof startFlexpriceApiStandIn>>;
  beforeAll(async () => {
    api = await startFlexpriceApiStandIn({ apiKey: KEY });
  });
  afterAll(() => api.close());

  it("reads a customer whose empty fields are left out, as Go's omitempty does, through the SDK's own validation", async () => {
    api.upsert({ id: 'cust_sparse', name: 'Sparse', email: '' });
    const client = createFlexpriceApi({ url: api.url, key: KEY, timeoutMs: 2_000 });
    const customer = await client.get('customer', 'cust_sparse');
    expect(customer).toMatchObject({ id: 'cust_sparse', status: 'published', raw: { name: 'Sparse' } });
    expect(customer?.raw.email).toBeUndefined();
    expect(customer?.updatedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
    const items = await client.byIds('customer', ['cust_sparse', 'cust_none'], 'published');
    expect(items.map((c) => c.id)).toEqual(['cust_sparse']);
  });

  it('asks which environment the key serves once however many ask, and an empty one again only after a minute', async () => {
    const own = await startFlexpriceApiStandIn({ apiKey: KEY, environmentId: 'env_own' });
    try {
      let clock = 1_000_000;
      const client = createFlexpriceApi({ url: own.url, key: KEY, timeoutMs: 2_000, now: () => clock });
      const searches = () => own.calls.filter((call) => call.path === '/v1/customers/search').length;
      expect(await client.servesEnvironment('env_own')).toBeUndefined();
      own.upsert({ id: 'cust_1', name: 'One' });
      expect(await client.servesEnvironment('env_own')).toBeUndefined();
      expect(searches()).toBe(1);
      clock += 60_000;
      const answers = await Promise.all(Array.from({ length: 20 }, () => client.servesEnvironment('env_own')));
      expect(answers).toEqual(Array(20).fill(true));
      expect(await client.servesEnvironment('env_elsewhere')).toBe(false);
      expect(searches()).toBe(2);
    } finally {
      await own.close();
    }
  });

  it('answers undefined for a customer Flexprice does not have (404)', async () => {
    const client = createFlexpriceApi({ url: api.url, key: KEY, timeoutMs: 2_000 });
    expect(await client.get('customer', 'cust_never')).toBeUndefined();
  });

  it('classifies failures: 401 and 403 unauthorized, 429 and 5xx retryable with Retry-After, 400 refused, no answer retryable', async () => {
    const wrong = createFlexpriceApi({ url: api.url, key: 'wrong-key-0000', timeoutMs: 2_000 });
    await expect(wrong.checkKey()).rejects.toMatchObject({ failure: 'unauthorized', status: 401 });
    await expect(wrong.checkKey()).rejects.toThrow(/FLEXPRICE_API_KEY/);
    // A key of another environment, or without the permission: as refused as a wrong one.
    const forbidden = createFlexpriceApi({ url: api.url, key: KEY, timeoutMs: 2_000 });
    api.failNext(1, { status: 403 });
    await expect(forbidden.get('customer', 'cust_sparse')).rejects.toMatchObject({
      failure: 'unauthorized',
      status: 403,
    });

    const client = createFlexpriceApi({ url: api.url, key: KEY, timeoutMs: 300 });
    api.failNext(1, { status: 429, headers: { 'retry-after': '7' } });
    await expect(client.get('customer', 'cust_sparse')).rejects.toMatchObject({
      failure: 'retryable',
      status: 429,
      retryAfterMs: 7_000,
    });
    api.failNext(1, { status: 503 });
    await expect(client.get('customer', 'cust_sparse')).rejects.toMatchObject({ failure: 'retryable', status: 503 });
    await expect(
      client.page('customer', { status: 'published', after: '2026-01-01T00:00:00Z', limit: 5000, offset: 0 }),
    ).rejects.toMatchObject({ failure: 'refused', status: 400 });
    api.setDelay(1_000);
    try {
      const error = await client.get('customer', 'cust_sparse').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FlexpriceApiError);
      expect(error).toMatchObject({ failure: 'retryable', status: undefined });
    } finally {
      api.setDelay(0);
    }
    // A body cut off, or stalled past the timeout: an error of the call (and nothing unhandled
    // left behind to end the process: vitest fails the run on an unhandled rejection).
    api.failNext(1, { status: 200, midBody: 'drop' });
    await expect(client.get('customer', 'cust_sparse')).rejects.toMatchObject({ failure: 'retryable' });
    api.failNext(1, { status: 200, midBody: 'stall' });
    await expect(client.get('customer', 'cust_sparse')).rejects.toMatchObject({ failure: 'retryable' });
    const unreachable = createFlexpriceApi({ url: 'http://127.0.0.1:9/v1', key: KEY, timeoutMs: 500 });
    await expect(unreachable.get('customer', 'x')).rejects.toMatchObject({ failure: 'retryable' });
  });
});
