import type { DtoCustomerResponse } from '@flexprice/sdk/sdk/models';
import type { FlexpriceApi } from '../outbound/flexprice-api.js';

export interface CustomerFetcherOptions {
  /** Largest batch of one search call. */
  maxBatch?: number;
  /** Longest a fetch waits for others to join its batch. */
  lingerMs?: number;
  /** How many customer jobs this process is running now: when all of them wait here, waiting longer gains nothing. */
  activeJobs: () => number;
}

interface Waiting {
  resolve: (customer: DtoCustomerResponse | undefined) => void;
  reject: (error: unknown) => void;
}

/**
 * Reads customers from the API for the jobs of this process, in batches when many jobs run: the
 * fetches that meet within a few milliseconds go out as one `queryCustomer` with their ids. A fetch
 * goes out at once when every running job is waiting for one (a single event is read at once), when
 * the batch is full, or after `lingerMs`. The search lists one status at a time: published, then
 * archived for those still missing; one found by neither is read by id (a 404, or deleted).
 */
export function createCustomerFetcher(api: FlexpriceApi, options: CustomerFetcherOptions) {
  const maxBatch = options.maxBatch ?? 100;
  const lingerMs = options.lingerMs ?? 20;
  let pending = new Map<string, Waiting[]>();
  let waitingCount = 0;
  let timer: NodeJS.Timeout | undefined;

  async function byId(id: string, waiting: Waiting[]): Promise<void> {
    try {
      const customer = await api.getCustomer(id);
      for (const w of waiting) w.resolve(customer);
    } catch (error) {
      for (const w of waiting) w.reject(error);
    }
  }

  async function send(batch: Map<string, Waiting[]>): Promise<void> {
    const ids = [...batch.keys()];
    if (ids.length === 1) {
      const [id] = ids;
      if (id !== undefined) await byId(id, batch.get(id) ?? []);
      return;
    }
    // The search lists one status at a time: published first, then archived for the rest.
    const found = new Map<string, DtoCustomerResponse>();
    try {
      for (const status of ['published', 'archived'] as const) {
        const missing = ids.filter((id) => !found.has(id));
        if (missing.length === 0) break;
        const { items } = await api.queryCustomers({ customerIds: missing, status, limit: missing.length });
        for (const customer of items) if (customer.id) found.set(customer.id, customer);
      }
    } catch (error) {
      for (const waiting of batch.values()) for (const w of waiting) w.reject(error);
      return;
    }
    await Promise.all(
      ids.map(async (id) => {
        const waiting = batch.get(id) ?? [];
        const customer = found.get(id);
        if (customer) for (const w of waiting) w.resolve(customer);
        else await byId(id, waiting);
      }),
    );
  }

  function flush(): void {
    clearTimeout(timer);
    timer = undefined;
    const entries = [...pending];
    pending = new Map();
    waitingCount = 0;
    for (let at = 0; at < entries.length; at += maxBatch) void send(new Map(entries.slice(at, at + maxBatch)));
  }

  return {
    /** The customer as the API has it now, or undefined when it has none with that id. */
    fetch(id: string): Promise<DtoCustomerResponse | undefined> {
      return new Promise((resolve, reject) => {
        const waiting = pending.get(id);
        if (waiting) waiting.push({ resolve, reject });
        else pending.set(id, [{ resolve, reject }]);
        waitingCount += 1;
        if (pending.size >= maxBatch || waitingCount >= options.activeJobs()) {
          // Everyone who could join has: go now (after the other fetches of this turn).
          clearTimeout(timer);
          timer = setTimeout(flush, 0);
        } else if (timer === undefined) {
          timer = setTimeout(flush, lingerMs);
        }
      });
    },
  };
}

export type CustomerFetcher = ReturnType<typeof createCustomerFetcher>;
