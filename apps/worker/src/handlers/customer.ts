import type { CustomerEvent } from '@flexprice/contracts';
import type { CustomerStore } from '../customer-store.js';
import type { Forward } from '../forwarder.js';
import type { HandlerContext, HandlerResult } from './types.js';

export interface CustomerHandlerDeps {
  store: CustomerStore;
  /** Unset when CUSTOMER_FORWARD_URL is not configured. */
  forward: Forward | undefined;
}

/**
 * customer.created / .updated / .deleted: upsert the store (once per idempotency key, tombstones
 * and legacy `updated_at` respected), then forward what was applied, once. A forward repeated
 * after a crash between the target's 2xx and our mark carries the same `webhook-id`.
 */
export function createCustomerHandler({ store, forward }: CustomerHandlerDeps) {
  return async function handleCustomerEvent(
    event: CustomerEvent,
    { receipt, log }: HandlerContext,
  ): Promise<HandlerResult> {
    const key = receipt.idempotencyKey;
    const { outcome, firstRun } = await store.apply(event, key);
    if (!firstRun) log.info({ outcome }, 'already applied by an earlier run');
    if (outcome !== 'applied') return { outcome, forwarded: 'skipped' };
    if (!forward) return { outcome, forwarded: 'disabled' };
    if (await store.wasForwarded(key)) return { outcome, forwarded: 'already' };

    const { status } = await forward({
      id: key,
      eventType: event.event_type,
      requestId: receipt.requestId,
      body: event,
    });
    await store.markForwarded(key);
    log.debug({ status }, 'forwarded');
    return { outcome, forwarded: 'sent' };
  };
}
