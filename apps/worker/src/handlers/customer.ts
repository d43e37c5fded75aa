import { randomUUID } from 'node:crypto';
import { acceptedMicrosOf, type CustomerEvent, payloadVersionOf, stateVersion } from '@flexprice/contracts';
import { DelayedError } from 'bullmq';
import type { CustomerStore } from '../customer-store.js';
import type { Forward } from '../forwarder.js';
import type { HandlerContext, HandlerResult } from './types.js';

export interface CustomerHandlerDeps {
  store: CustomerStore;
  /** Unset when CUSTOMER_FORWARD_URL is not configured. */
  forward: Forward | undefined;
  /** How long a forward may take (CUSTOMER_FORWARD_TIMEOUT_MS): the forward lock outlives it. */
  forwardTimeoutMs?: number;
  /** Counts a job stepping aside while another forward of its customer is in flight. */
  onForwardWait?: () => void;
  /** Random source of the lock-wait jitter (tests make it fixed). */
  random?: () => number;
}

/**
 * The forward lock outlives the forward's own timeout by this much (the scripts around it take
 * milliseconds). A worker that dies mid-forward holds its customer's lock no longer than that.
 */
const LOCK_MARGIN_MS = 2_000;

/** The version of the state a customer job carries (contracts' `versions.ts`). */
export function customerVersion(event: CustomerEvent, context: Pick<HandlerContext, 'job' | 'receipt'>): string {
  return stateVersion({
    deleted: event.event_type === 'customer.deleted',
    payloadTime: payloadVersionOf(event.event_type, event),
    acceptedMicros: acceptedMicrosOf(context.receipt),
    tieBreak: context.job.id ?? '',
  });
}

/**
 * customer.created / .updated / .deleted: store the state if it is newer than the stored one
 * (tombstones final), then forward it, one forward per customer at a time and never an older state
 * after a newer one was acknowledged:
 *
 * - superseded before its forward succeeded (on a retry, a replay or while waiting): completes as
 *   `skipped_stale` without forwarding; the newer state's own job forwards that one;
 * - another forward of the customer in flight: the job steps aside for a moment (BullMQ's
 *   `moveToDelayed`, which spends no attempt) and decides again;
 * - a forward repeated after a crash between the target's 2xx and our record of it carries the
 *   same `webhook-id`, and the version lets the target apply only what is newer.
 */
export function createCustomerHandler({
  store,
  forward,
  forwardTimeoutMs = 10_000,
  onForwardWait,
  random = Math.random,
}: CustomerHandlerDeps) {
  const lockTtlMs = forwardTimeoutMs + LOCK_MARGIN_MS;

  return async function handleCustomerEvent(event: CustomerEvent, context: HandlerContext): Promise<HandlerResult> {
    const { job, token, receipt, log } = context;
    const key = receipt.idempotencyKey;
    const lock = forward ? { token: randomUUID(), ttlMs: lockTtlMs } : undefined;
    const applied = await store.apply(event, {
      version: customerVersion(event, context),
      idempotencyKey: key,
      pinToDelivery: receipt.deliveryId !== null,
      lock,
    });
    const { outcome, forward: gate, version } = applied;

    if (outcome === 'skipped_stale' || outcome === 'skipped_tombstone') return { outcome, forwarded: 'skipped' };
    if (outcome === 'current')
      log.info({ version }, 'this state was stored already (an earlier try, or an earlier job of this delivery)');
    if (!forward || !lock) return { outcome: 'applied', forwarded: 'disabled' };
    if (gate === 'already') return { outcome: 'applied', forwarded: 'already' };
    if (gate === 'busy') {
      // Another state of this customer is being forwarded. Retried well within a forward's time,
      // with jitter so that waiting jobs do not come back together.
      const waitMs = Math.round(50 + random() * 200);
      log.debug({ waitMs }, 'a forward of this customer is in flight: waiting for it');
      onForwardWait?.();
      if (token === undefined) throw new Error('a forward of this customer is in flight; retry later');
      await job.moveToDelayed(Date.now() + waitMs, token);
      throw new DelayedError();
    }

    try {
      const { status } = await forward({
        id: key,
        eventType: event.event_type,
        requestId: receipt.requestId,
        version,
        body: { ...event, version },
      });
      log.debug({ status, version }, 'forwarded');
    } catch (error) {
      await store.releaseForward(event.customer.id, lock.token).catch(() => undefined);
      throw error;
    }
    await store.forwarded(event.customer.id, version, lock.token);
    return { outcome: 'applied', forwarded: 'sent' };
  };
}
