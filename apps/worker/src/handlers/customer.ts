import { type CustomerEvent, eventVersion } from '@flexprice/contracts';
import type { EntityState } from '../entities/api-state.js';
import type { Keeper } from '../entities/keepers.js';
import { jobApplyContext } from '../ordering/ordered-forward.js';
import type { HandlerContext, HandlerResult } from './types.js';

/** The version of the state a webhook job carries (contracts' `versions.ts`). */
export function customerVersion(event: CustomerEvent, context: Pick<HandlerContext, 'job' | 'receipt'>): string {
  return eventVersion(event.event_type, event, context.receipt, context.job.id ?? '');
}

/** A customer's state as its webhook carries it. */
export function stateFromWebhook(event: CustomerEvent, context: Pick<HandlerContext, 'job' | 'receipt'>): EntityState {
  return {
    id: event.customer.id,
    eventType: event.event_type,
    requested: event.event_type,
    entity: event.customer,
    webhook: event,
    version: customerVersion(event, context),
    deleting: event.event_type === 'customer.deleted',
    provisional: false,
    pinToDelivery: context.receipt.deliveryId !== null,
    source: 'webhook',
  };
}

/**
 * customer.created / .updated / .deleted without FLEXPRICE_API_KEY: the state is the webhook
 * body's, versioned by its payload time or the time it was accepted, kept by the customer store
 * (`entities/keepers.ts`). With a key, customers go through the API pipeline like every
 * API-backed family (`entities/pipeline.ts`).
 */
export function createCustomerHandler(keeper: Keeper, onApplied?: () => void) {
  return async function handleCustomerEvent(event: CustomerEvent, context: HandlerContext): Promise<HandlerResult> {
    return keeper.apply(stateFromWebhook(event, context), jobApplyContext(context), onApplied);
  };
}
