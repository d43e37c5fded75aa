import { ENTITY_CATALOG, entityIdOf, eventVersion, familyOf, versionClockOf } from '@flexprice/contracts';
import type { ReplicaWait } from '@flexprice/runtime';
import type { ForwardTarget } from '../entities/keepers.js';
import { type EntityMarks, targetKey } from '../ordering/entity-marks.js';
import { createOrderedForward, jobApplyContext } from '../ordering/ordered-forward.js';
import type { HandlerContext, HandlerResult } from './types.js';

export interface RouteHandlerDeps {
  marks: EntityMarks;
  /** The route's URL (what the entity marks are kept per). */
  url: string;
  target: ForwardTarget;
  /** Counts a job stepping aside while another forward of its entity is in flight. */
  onForwardWait?: ((eventType: string) => void) | undefined;
  random?: (() => number) | undefined;
  /** REDIS_WAIT_REPLICAS > 0: a version is forwarded once the replicas hold its mark. */
  replicas?: ReplicaWait | undefined;
}

/**
 * Forwards an event of any family to its route's target, as Flexprice sent it (`event_type` added
 * when it was inferred from an alert's shape), ordered per entity: one forward per entity in flight,
 * never an older version after a newer one was acknowledged (`ordered-forward.ts`). An event that
 * names no entity (`feature.wallet_balance.alert`) has nothing to be ordered with and goes at once.
 */
export function createRouteHandler(deps: RouteHandlerDeps) {
  const ordered = createOrderedForward({
    forward: deps.target.send,
    forwardTimeoutMs: deps.target.timeoutMs,
    random: deps.random,
    onForwardWait: deps.onForwardWait,
    replicas: deps.replicas,
  });

  // The marks' key of this route: hashed once here, not for every job.
  const routeKey = targetKey(deps.url);

  return async function forwardEvent(event: object, context: HandlerContext): Promise<HandlerResult> {
    const { eventType, receipt, job } = context;
    const body = 'event_type' in event ? event : { event_type: eventType, ...event };
    const version = eventVersion(eventType, event, receipt, job.id ?? '');
    const versionClock = versionClockOf(eventType, event);
    const entityId = entityIdOf(eventType, event);
    if (entityId === undefined) {
      const { idempotencyKey: id, requestId } = receipt;
      await deps.target.send({ id, eventType, requestId, version, versionClock, body });
      return { outcome: 'unordered', forwarded: 'sent' };
    }
    const mark = deps.marks.mark({
      family: familyOf(eventType),
      target: routeKey,
      entityId,
      eventType,
      version,
      idempotencyKey: receipt.idempotencyKey,
      deleting: ENTITY_CATALOG[eventType].deletes,
      clock: versionClock,
      pinToDelivery: receipt.deliveryId !== null,
    });
    return ordered(mark, { eventType, versionClock, body: () => body }, jobApplyContext(context));
  };
}
