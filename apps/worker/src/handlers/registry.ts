import { BUILT_IN_HANDLERS, type EventType, type Family, familyOf } from '@flexprice/contracts';
import type { EntityMarks } from '../ordering/entity-marks.js';
import type { ForwardTargets } from '../outbound/forward-targets.js';
import { type CustomerHandlerDeps, createCustomerHandler } from './customer.js';
import { createRouteHandler } from './forward.js';
import type { Handler, HandlerRegistry } from './types.js';

export interface HandlerDeps extends CustomerHandlerDeps {
  /** The version marks of the entities forwarded by route. */
  marks: EntityMarks;
  routes: ForwardTargets['routes'];
}

/**
 * The one place that says which events the worker processes, and how: customer events by the
 * customer store (and its route, when there is one; contracts' BUILT_IN_HANDLERS tells the
 * receivers they need no route, and a test holds the two together), every other routed event by its route's
 * ordered forward. An event type with neither has no handler: its job fails for good, visibly.
 */
export function createHandlers(deps: HandlerDeps): HandlerRegistry {
  const customer = createCustomerHandler(deps);
  const registry: HandlerRegistry = {
    'customer.created': customer,
    'customer.updated': customer,
    'customer.deleted': customer,
  };
  for (const { route, target } of deps.routes) {
    const handler = createRouteHandler({
      marks: deps.marks,
      url: route.url,
      target,
      onForwardWait: deps.onForwardWait,
      random: deps.random,
      replicas: deps.replicas,
    });
    for (const type of route.claims) {
      if (BUILT_IN_HANDLERS.includes(type)) continue;
      (registry as Record<EventType, Handler<EventType>>)[type] = handler;
    }
  }
  return registry;
}

/**
 * The families the worker consumes (one BullMQ worker each): every family ENQUEUE_EVENTS queues,
 * every family a route claims (jobs a receiver with other settings queued are not left waiting),
 * and the built-in ones always.
 */
export function consumedFamilies(enqueued: readonly EventType[], routed: readonly EventType[] = []): Family[] {
  return [...new Set([...BUILT_IN_HANDLERS, ...enqueued, ...routed].map(familyOf))];
}
