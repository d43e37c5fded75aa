import { type EventType, type ForwardRoute, familyOf } from '@flexprice/contracts';
import type { ForwardTarget } from '../entities/keepers.js';
import type { ForwardStatusClass } from '../metrics.js';
import { createForwarder } from './forwarder.js';

/** One signed forwarder per route, in route order (the first match wins), all signed and timed alike. */
export function createForwardTargets(
  routes: readonly ForwardRoute[],
  /** FORWARD_SECRET and FORWARD_TIMEOUT_MS: the secrets every forward is signed with, its deadline. */
  forward: { secrets: readonly string[]; timeoutMs: number },
  /** Times each forward by route and answer class (Prometheus). */
  observe?: (route: string, statusClass: ForwardStatusClass, seconds: number) => void,
) {
  const built = routes.map((route) => {
    const target: ForwardTarget = {
      send: createForwarder({
        url: route.url,
        secrets: [...forward.secrets],
        timeoutMs: forward.timeoutMs,
        ...(observe && { observe: (statusClass, seconds) => observe(route.pattern, statusClass, seconds) }),
      }),
      timeoutMs: forward.timeoutMs,
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
