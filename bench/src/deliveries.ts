import { currentCustomer, customerEvent } from '@flexprice/contracts/fixtures';
import { signedHeaders, staticAuthHeaders } from './testing.js';

/** One request of a load run: a distinct `customer.created` delivery, signed ahead of time. */
export interface Delivery {
  headers: Record<string, string>;
  body: string;
}

/** `signed`: Svix headers with the test secret (Flexprice Cloud); `static`: the static header (native). */
export type Auth = 'signed' | 'static';

/** Distinct ids for everything a run creates (deliveries, customers, jobs). */
export class Sequence {
  #value = 0;
  next(): number {
    this.#value += 1;
    return this.#value;
  }
}

/**
 * `count` deliveries, each with its own delivery id; `customers`: how many distinct customers they
 * are about (default: one each).
 */
export function makePool(sequence: Sequence, count: number, auth: Auth, customers = Number.POSITIVE_INFINITY) {
  const pool: Delivery[] = [];
  for (let i = 0; i < count; i += 1) {
    const n = sequence.next();
    const id = `cust_bench_${Number.isFinite(customers) ? n % customers : n}`;
    const body = JSON.stringify(customerEvent('customer.created', currentCustomer({ id, external_id: `ext-${id}` })));
    const headers = auth === 'static' ? staticAuthHeaders() : signedHeaders(body, { id: `msg_bench_${n}` });
    pool.push({ headers, body });
  }
  return pool;
}

/**
 * Distinct deliveries for 12,000 req/s over `seconds` (twice the fastest contender here); signing
 * them is the bench's own largest cost.
 */
export const poolSize = (seconds: number): number => Math.ceil(seconds * 12_000);
