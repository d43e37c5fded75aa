import { type EventType, familyOf } from '@flexprice/contracts';
import type { RouteConfig } from '../config.js';
import type { ForwardTarget } from '../entities/keepers.js';
import type { ForwardStatusClass } from '../metrics.js';
import { createForwarder } from './forwarder.js';

/** One signed forwarder per route, in route order (the first match wins). */
export function createForwardTargets(
  routes: readonly RouteConfig[],
  /** Times each forward by route and answer class (Prometheus). */
  observe?: (route: string, statusClass: ForwardStatusClass, seconds: number) => void,
) {
  const built = routes.map((route) => {
    const target: ForwardTarget = {
      send: createForwarder({
        url: route.url,
        secrets: route.secrets,
        timeoutMs: route.timeoutMs,
        ...(observe && { observe: (statusClass, seconds) => observe(route.pattern, statusClass, seconds) }),
      }),
      timeoutMs: route.timeoutMs,
      takes: (eventType) => route.claims.includes(eventType as EventType),
    };
    return { route, target };
  });
  // Customer events may be claimed by several routes, all to one URL (the config checks it): the
  // first route's forwarder takes every one of them.
  const customerRoutes = built.filter(({ route }) => route.claims.some((type) => familyOf(type) === 'customer'));
  const first = customerRoutes[0]?.target;
  return {
    routes: built,
    /** The customer route: the one target of every routed customer event. */
    customer: first && {
      ...first,
      takes: (eventType: string) => customerRoutes.some(({ target }) => target.takes(eventType)),
    },
  };
}

export type ForwardTargets = ReturnType<typeof createForwardTargets>;
