import {
  API_ENTITIES,
  type ApiFamily,
  apiFamilyOf,
  BUILT_IN_HANDLERS,
  type EventType,
  type Family,
  familyOf,
} from '@flexprice/contracts';
import type { ReplicaWait } from '@flexprice/runtime';
import type { EntityState } from '../entities/api-state.js';
import { createRouteKeeper, type Keeper } from '../entities/keepers.js';
import type { ApiPipeline } from '../entities/pipeline.js';
import type { EntityMarks } from '../ordering/entity-marks.js';
import type { ForwardTargets } from '../outbound/forward-targets.js';
import { createCustomerHandler } from './customer.js';
import { createRouteHandler } from './forward.js';
import type { Handler, HandlerRegistry } from './types.js';

export interface HandlerDeps {
  /** The customer store and the customer route. */
  customers: Keeper;
  /** The version marks of the entities forwarded by route. */
  marks: EntityMarks;
  routes: ForwardTargets['routes'];
  /** Set with FLEXPRICE_API_KEY: every API-backed event type reads its entity from the API. */
  api?: ApiPipeline | undefined;
  /** Counts a state stored or forwarded, by family and where it came from. */
  onApplied?: ((family: Family, source: EntityState['source']) => void) | undefined;
  onForwardWait?: ((eventType: string) => void) | undefined;
  random?: (() => number) | undefined;
  replicas?: ReplicaWait | undefined;
}

/**
 * The one place that says which events the worker processes, and how:
 * - customer events by the customer store (and its route, when there is one; contracts'
 *   BUILT_IN_HANDLERS tells the receivers they need no route, and a test holds the two together);
 * - every other routed event by its route;
 * - with FLEXPRICE_API_KEY, every API-backed event type (contracts' `apiFamilyOf`: customers,
 *   subscriptions, invoices, payments, wallets, credit notes, entitlements, features) reads its
 *   entity's state from the API (`entities/pipeline.ts`); the rest (notifications, announcements)
 *   goes out from its body, as without a key.
 * An event type with no handler fails for good, visibly.
 */
export function createHandlers(deps: HandlerDeps): HandlerRegistry {
  const { api } = deps;
  const registry: HandlerRegistry = {};
  const set = (type: EventType, handler: Handler<EventType>) => {
    (registry as Record<EventType, Handler<EventType>>)[type] = handler;
  };
  const customer = api
    ? api.handler('customer', deps.customers)
    : createCustomerHandler(deps.customers, () => deps.onApplied?.('customer', 'webhook'));
  for (const type of BUILT_IN_HANDLERS) set(type, customer as Handler<EventType>);

  const shared = { onForwardWait: deps.onForwardWait, random: deps.random, replicas: deps.replicas };
  for (const { route, target } of deps.routes) {
    const byBody = createRouteHandler({ marks: deps.marks, url: route.url, target, ...shared });
    // One keeper (and one handler) per family of the route: the route's marks of that family.
    const byApi = new Map<ApiFamily, Handler<EventType>>();
    for (const type of route.claims) {
      if (BUILT_IN_HANDLERS.includes(type)) continue;
      const family = apiFamilyOf(type);
      if (!api || family === undefined) {
        set(type, byBody as Handler<EventType>);
        continue;
      }
      let handler = byApi.get(family);
      if (!handler) {
        const keeper = createRouteKeeper({ family, marks: deps.marks, url: route.url, target, ...shared });
        handler = api.handler(family, keeper) as Handler<EventType>;
        byApi.set(family, handler);
      }
      set(type, handler);
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

/** The key a family's entity has in a body (for the docs and the reconciler). */
export const familyKey = (family: ApiFamily) => API_ENTITIES[family].key;
