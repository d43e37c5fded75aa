import { type EventType, type Family, familyOf } from '@flexprice/contracts';
import { type CustomerHandlerDeps, createCustomerHandler } from './customer.js';
import type { HandlerRegistry } from './types.js';

export type HandlerDeps = CustomerHandlerDeps;

/**
 * The one place that says which events the worker processes, and how. A family's queue gets a
 * worker only when at least one of its events has a handler here; jobs of other families wait in
 * their queues until one is added (and the receiver only queues what ENQUEUE_EVENTS routes).
 */
export function createHandlers(deps: HandlerDeps): HandlerRegistry {
  const customer = createCustomerHandler(deps);
  return {
    'customer.created': customer,
    'customer.updated': customer,
    'customer.deleted': customer,
  };
}

/** The families that have at least one handler: one BullMQ worker each. */
export function handledFamilies(handlers: HandlerRegistry): Family[] {
  const types = Object.keys(handlers) as EventType[];
  return [...new Set(types.map(familyOf))];
}
