import type { ApiFamily, Family } from '@flexprice/contracts';
import type { ReplicaWait } from '@flexprice/runtime';
import type { HandlerResult } from '../handlers/types.js';
import type { CustomerStore } from '../ordering/customer-store.js';
import { type EntityMarks, targetKey } from '../ordering/entity-marks.js';
import { type ApplyContext, createOrderedForward } from '../ordering/ordered-forward.js';
import type { Mark } from '../ordering/versioned-store.js';
import type { Forward } from '../outbound/forwarder.js';
import { bodyOf, type EntityState, forwardIdOf } from './api-state.js';

/** A forward target, with what it takes. */
export interface ForwardTarget {
  send: Forward;
  /** Its timeout: the forward lock outlives it. */
  timeoutMs: number;
  /** Whether it takes this event type (a route's pattern may leave some of a family's events out). */
  takes: (eventType: string) => boolean;
}

/**
 * Where an entity's states are kept and in what order they go out: the one versioned step
 * (`ordering/versioned-store.ts`) and the ordered forward after it. Every state, whichever way it
 * came (a webhook body, Flexprice's API, the reconciler), goes through one.
 */
export interface Keeper {
  apply(state: EntityState, context: ApplyContext, onApplied?: () => void): Promise<HandlerResult>;
  /** The newest version kept for the entity (what a provisional deletion is ordered after). */
  lastVersion(id: string): Promise<string | undefined>;
}

interface OrderingDeps {
  /** Counts a job stepping aside while another forward of its entity is in flight. */
  onForwardWait?: ((eventType: string) => void) | undefined;
  /** Random source of the lock-wait jitter (tests make it fixed). */
  random?: (() => number) | undefined;
  /** REDIS_WAIT_REPLICAS > 0: a state is forwarded once the replicas hold its write. */
  replicas?: ReplicaWait | undefined;
}

export interface CustomerKeeperDeps extends OrderingDeps {
  store: CustomerStore;
  /** The customer route (the FORWARD_ROUTES route of customer events, or its alias CUSTOMER_FORWARD_URL); unset: store only. */
  forward: ForwardTarget | undefined;
}

/**
 * Customers: the store (each customer's newest state and the external-id index, a tombstone once
 * deleted), then the customer route. The body is the webhook-shaped state with its `version`.
 */
export function createCustomerKeeper(deps: CustomerKeeperDeps): Keeper {
  const { store, forward } = deps;
  const shared = { onForwardWait: deps.onForwardWait, random: deps.random };
  const forwarding = createOrderedForward({
    ...shared,
    forward: forward?.send,
    forwardTimeoutMs: forward?.timeoutMs ?? 0,
    replicas: deps.replicas,
  });
  const storing = createOrderedForward({ ...shared, forward: undefined, forwardTimeoutMs: 0 });

  return {
    async apply(state, context, onApplied) {
      const ordered = forward?.takes(state.eventType) ? forwarding : storing;
      const mark: Mark = {
        apply: (lock) =>
          store.apply(
            { eventType: state.eventType, customer: { ...state.entity, id: state.id } },
            {
              version: state.version,
              idempotencyKey: context.idempotencyKey,
              pinToDelivery: state.pinToDelivery,
              provisional: state.provisional,
              lock,
            },
          ),
        forwarded: (version, token) => store.forwarded(state.id, version, token),
        release: (token) => store.releaseForward(state.id, token),
        // A newer customer state is stored before it is forwarded: an older one is stale already.
        mayHaveForwarded: async () => {},
      };
      const outgoing = {
        eventType: state.eventType,
        versionClock: state.source === 'webhook' ? undefined : ('api' as const),
        body: (version: string) => ({ ...bodyOf('customer', state), version }),
        id: forwardIdOf('customer', state),
      };
      return ordered(mark, outgoing, context, onApplied);
    },
    lastVersion: async (id) => (await store.get(id))?.version,
  };
}

export interface RouteKeeperDeps extends OrderingDeps {
  family: ApiFamily & Family;
  marks: EntityMarks;
  /** The route's URL (what the marks are kept per). */
  url: string;
  target: ForwardTarget;
}

/**
 * The API states of a family forwarded by one route: the route's order marks of the family (versions
 * only, on the `api` clock: a state applies when it is newer, and one the target acknowledged is
 * not sent again), then the route. The body is the webhook-shaped state.
 */
export function createRouteKeeper(deps: RouteKeeperDeps): Keeper {
  const { family, marks } = deps;
  const target = targetKey(deps.url);
  const ordered = createOrderedForward({
    forward: deps.target.send,
    forwardTimeoutMs: deps.target.timeoutMs,
    random: deps.random,
    onForwardWait: deps.onForwardWait,
    replicas: deps.replicas,
  });
  return {
    async apply(requestedState, context, onApplied) {
      // Only what the route takes goes out by it.
      const state = deps.target.takes(requestedState.eventType)
        ? requestedState
        : { ...requestedState, eventType: requestedState.requested };
      const mark = marks.mark({
        family,
        target,
        entityId: state.id,
        eventType: state.eventType,
        version: state.version,
        idempotencyKey: context.idempotencyKey,
        deleting: state.deleting,
        provisional: state.provisional,
        announce: state.announcement,
        clock: 'api',
        pinToDelivery: false,
      });
      const outgoing = {
        eventType: state.eventType,
        versionClock: 'api' as const,
        body: () => bodyOf(family, state),
        id: forwardIdOf(family, state),
      };
      const result = await ordered(mark, outgoing, context, onApplied);
      // An announcement is sent once per delivery: one that found a newer state forwarded than the
      // one it read (a read behind) tries again rather than be dropped.
      if (state.announcement && (result.outcome === 'skipped_stale' || result.forwarded === 'already')) {
        throw new Error(`${state.eventType}: the state read is older than one forwarded; read again`);
      }
      return result;
    },
    lastVersion: (id) => marks.lastVersion(family, target, id, 'api'),
  };
}
