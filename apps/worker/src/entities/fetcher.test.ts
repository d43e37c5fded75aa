import type { DtoCustomerResponse } from '@flexprice/sdk/sdk/models';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { FlexpriceApi } from '../outbound/flexprice-api.js';
import { createCustomerFetcher } from './fetcher.js';

// When the fetcher calls the API, on a fake clock: at once when every running job waits for it,
// else after the linger, in one batch. (What the API answers is the integration tests' part.)

function fakeApi() {
  const calls: string[] = [];
  const api = {
    getCustomer: vi.fn(async (id: string) => {
      calls.push(`get ${id}`);
      return { id, environmentId: 'env' } as DtoCustomerResponse;
    }),
    queryCustomers: vi.fn(async (filter: { customerIds?: string[]; status?: string }) => {
      calls.push(`search ${filter.status} ${filter.customerIds?.join(',')}`);
      const items = filter.status === 'published' ? (filter.customerIds ?? []).map((id) => ({ id })) : [];
      return { items: items as DtoCustomerResponse[], total: items.length };
    }),
  };
  return { api: api as unknown as FlexpriceApi, calls };
}

describe('createCustomerFetcher', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reads a single event at once when it is the only job running, by id', async () => {
    const { api, calls } = fakeApi();
    const fetcher = createCustomerFetcher(api, { activeJobs: () => 1, lingerMs: 60_000 });
    const customer = fetcher.fetch('c_1');
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toEqual(['get c_1']);
    await expect(customer).resolves.toMatchObject({ id: 'c_1' });
  });

  it('waits for the other running jobs up to the linger, then reads them in one search', async () => {
    const { api, calls } = fakeApi();
    const fetcher = createCustomerFetcher(api, { activeJobs: () => 3, lingerMs: 20 });
    const fetched = [fetcher.fetch('c_1'), fetcher.fetch('c_2')];
    await vi.advanceTimersByTimeAsync(19);
    expect(calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toEqual(['search published c_1,c_2']);
    expect((await Promise.all(fetched)).map((c) => c?.id)).toEqual(['c_1', 'c_2']);
  });

  it('goes at once when every running job is waiting', async () => {
    const { api, calls } = fakeApi();
    const fetcher = createCustomerFetcher(api, { activeJobs: () => 3, lingerMs: 60_000 });
    const fetched = ['c_1', 'c_2', 'c_3'].map((id) => fetcher.fetch(id));
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toEqual(['search published c_1,c_2,c_3']);
    expect(await Promise.all(fetched)).toHaveLength(3);
  });

  it('goes at once when the batch is full, and splits at the largest batch', async () => {
    const { api, calls } = fakeApi();
    const fetcher = createCustomerFetcher(api, { activeJobs: () => 100, lingerMs: 60_000, maxBatch: 3 });
    const fetched = ['c_1', 'c_2', 'c_3', 'c_4', 'c_5'].map((id) => fetcher.fetch(id));
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toEqual(['search published c_1,c_2,c_3', 'search published c_4,c_5']);
    expect(await Promise.all(fetched)).toHaveLength(5);
  });
});
