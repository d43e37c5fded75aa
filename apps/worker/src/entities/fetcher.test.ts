import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ApiEntity, FlexpriceApi } from '../outbound/flexprice-api.js';
import { createEntityFetcher } from './fetcher.js';

// When the fetcher calls the API, on a fake clock: at once when every running job waits for it,
// else after the linger, in one batch. (What the API answers is the integration tests' part.)

const entity = (id: string): ApiEntity => ({
  id,
  raw: { id },
  updatedAt: undefined,
  status: 'published',
  environmentId: 'env',
});

function fakeApi(can: { get: boolean; byIds: boolean } = { get: true, byIds: true }) {
  const calls: string[] = [];
  const api = {
    can: () => ({ ...can, statuses: ['published', 'archived'] }),
    get: vi.fn(async (_family: string, id: string) => {
      calls.push(`get ${id}`);
      return entity(id);
    }),
    byIds: vi.fn(async (_family: string, ids: string[], status: string | undefined) => {
      calls.push(`search ${status} ${ids.join(',')}`);
      return status === 'published' ? ids.filter((id) => !id.startsWith('gone')).map(entity) : [];
    }),
  };
  return { api: api as unknown as FlexpriceApi, calls };
}

const createCustomerFetcher = (api: FlexpriceApi, options: Parameters<typeof createEntityFetcher>[2]) =>
  createEntityFetcher(api, 'customer', options);

describe('createEntityFetcher', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reads a single event at once when it is the only job reading, by id', async () => {
    const { api, calls } = fakeApi();
    const fetcher = createCustomerFetcher(api, { readingJobs: () => 1, lingerMs: 60_000 });
    const customer = fetcher.fetch('c_1');
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toEqual(['get c_1']);
    await expect(customer).resolves.toMatchObject({ id: 'c_1' });
  });

  it('waits for the other jobs still reading up to the linger, then reads them in one search', async () => {
    const { api, calls } = fakeApi();
    const fetcher = createCustomerFetcher(api, { readingJobs: () => 3, lingerMs: 20 });
    const fetched = [fetcher.fetch('c_1'), fetcher.fetch('c_2')];
    await vi.advanceTimersByTimeAsync(19);
    expect(calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toEqual(['search published c_1,c_2']);
    expect((await Promise.all(fetched)).map((c) => c?.id)).toEqual(['c_1', 'c_2']);
  });

  it('goes at once when every job still reading is waiting', async () => {
    const { api, calls } = fakeApi();
    const fetcher = createCustomerFetcher(api, { readingJobs: () => 3, lingerMs: 60_000 });
    const fetched = ['c_1', 'c_2', 'c_3'].map((id) => fetcher.fetch(id));
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toEqual(['search published c_1,c_2,c_3']);
    expect(await Promise.all(fetched)).toHaveLength(3);
  });

  it('goes at once when the batch is full, and splits at the largest batch', async () => {
    const { api, calls } = fakeApi();
    const fetcher = createCustomerFetcher(api, { readingJobs: () => 100, lingerMs: 60_000, maxBatch: 3 });
    const fetched = ['c_1', 'c_2', 'c_3', 'c_4', 'c_5'].map((id) => fetcher.fetch(id));
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toEqual(['search published c_1,c_2,c_3', 'search published c_4,c_5']);
    expect(await Promise.all(fetched)).toHaveLength(5);
  });

  it('looks for the ones a search missed among the archived, then by id; a family without a search reads by id', async () => {
    const { api, calls } = fakeApi();
    const fetcher = createCustomerFetcher(api, { readingJobs: () => 2, lingerMs: 60_000 });
    const fetched = [fetcher.fetch('c_1'), fetcher.fetch('gone_2')];
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toEqual(['search published c_1,gone_2', 'search archived gone_2', 'get gone_2']);
    expect(await Promise.all(fetched)).toHaveLength(2);

    const byIdOnly = fakeApi({ get: true, byIds: false });
    const entitlements = createEntityFetcher(byIdOnly.api, 'entitlement', { readingJobs: () => 2, lingerMs: 60_000 });
    await Promise.all([entitlements.fetch('e_1'), entitlements.fetch('e_2'), vi.advanceTimersByTimeAsync(0)]);
    expect(byIdOnly.calls).toEqual(['get e_1', 'get e_2']);

    const searchOnly = fakeApi({ get: false, byIds: true });
    const features = createEntityFetcher(searchOnly.api, 'feature', { readingJobs: () => 1, lingerMs: 60_000 });
    const [missing] = await Promise.all([features.fetch('gone_f'), vi.advanceTimersByTimeAsync(0)]);
    expect(searchOnly.calls).toEqual(['search published gone_f', 'search archived gone_f']);
    expect(missing).toBeUndefined();
  });
});
