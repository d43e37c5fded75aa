import { randomUUID } from 'node:crypto';
import { type ReplicaWait, ReplicaWaitError } from '@flexprice/runtime';
import { DelayedError } from 'bullmq';
import type { Logger } from 'pino';
import type { HandlerContext, HandlerResult } from '../handlers/types.js';
import { type Forward, RetryableForwardError } from '../outbound/forwarder.js';
import type { Mark } from './versioned-store.js';

/**
 * The forward lock outlives the forward's own timeout by this much (the scripts around it take
 * milliseconds). A worker that dies mid-forward holds its entity's lock no longer than that.
 */
const LOCK_MARGIN_MS = 2_000;

export interface ApplyContext {
  /** The idempotency key the forward carries as `webhook-id`. */
  idempotencyKey: string;
  requestId: string;
  log: Logger;
  /**
   * Another forward of this entity is in flight: wait `ms`, then the version is decided again. A
   * job steps aside in BullMQ (and never returns); the reconciler sleeps.
   */
  stepAside: (ms: number, why?: string) => Promise<void>;
}

/** What a job's step aside is: back to the delayed set for `ms`, no attempt spent. */
export function jobApplyContext(context: HandlerContext): ApplyContext {
  const { job, token, receipt } = context;
  return {
    idempotencyKey: receipt.idempotencyKey,
    requestId: receipt.requestId,
    // The job's logger is made when first used (processor.ts).
    get log() {
      return context.log;
    },
    async stepAside(ms, why = 'a forward of this entity is in flight') {
      if (token === undefined) throw new Error(`${why}; retry later`);
      await job.moveToDelayed(Date.now() + ms, token);
      throw new DelayedError();
    },
  };
}

export interface Outgoing {
  eventType: string;
  /** Sent as `x-entity-version-clock`. */
  versionClock?: 'payload' | 'receipt' | 'api' | undefined;
  /** The body to send, given the version applied (a delivery's first version may stand for it). */
  body: (version: string) => unknown;
  /**
   * The forward's `webhook-id`, given the version applied; unset: the job's idempotency key. A
   * state read from Flexprice's API gets an id of its own (entity and version): a try of one job
   * may read a newer state than the try before it, and a service that drops a repeated
   * `webhook-id` must never drop a newer state for it.
   */
  id?: ((version: string) => string) | undefined;
}

export interface OrderedForwardOptions {
  /** Unset: store only, nothing is forwarded. */
  forward: Forward | undefined;
  /** The forward's timeout: the lock outlives it. */
  forwardTimeoutMs: number;
  /** Counts a job stepping aside while another forward of its entity is in flight. */
  onForwardWait?: ((eventType: string) => void) | undefined;
  /** Random source of the lock-wait jitter (tests make it fixed). */
  random?: (() => number) | undefined;
  /**
   * REDIS_WAIT_REPLICAS > 0: the WAIT on the store's connection. A version is forwarded once the
   * replicas hold its store write (and lock); fewer in time, and the forward is retried.
   */
  replicas?: Pick<ReplicaWait, 'generation' | 'confirm' | 'settings'> | undefined;
}

/**
 * Applies a version to its mark, then forwards it, one forward per entity at a time and never an
 * older version after a newer one was acknowledged:
 *
 * - superseded before its forward succeeded (on a retry, a replay or while waiting): done as
 *   `skipped_stale` without forwarding; the newer version's own job forwards that one;
 * - another forward of the entity in flight: step aside for a moment and decide again;
 * - a forward repeated after a crash between the target's 2xx and our record of it carries the
 *   same `webhook-id`, and `x-entity-version` lets the target apply only what is newer.
 */
export function createOrderedForward(options: OrderedForwardOptions) {
  const { forward, onForwardWait, random = Math.random, replicas } = options;
  // The lock is taken with the store write, before the replicas are waited for: a confirmation can
  // take two WAIT timeouts (one already out, then its own), and the lock must outlast them.
  const waitMs = replicas && replicas.settings.replicas > 0 ? 2 * replicas.settings.timeoutMs : 0;
  const lockTtlMs = options.forwardTimeoutMs + waitMs + LOCK_MARGIN_MS;

  return async function applyAndForward(
    mark: Mark,
    outgoing: Outgoing,
    context: ApplyContext,
    onApplied?: () => void,
  ): Promise<HandlerResult> {
    for (;;) {
      const lock = forward ? { token: randomUUID(), ttlMs: lockTtlMs } : undefined;
      const since = replicas?.generation() ?? 0;
      const applied = await mark.apply(lock);
      const { forward: gate, version } = applied;
      if (applied.outcome === 'skipped_stale' || applied.outcome === 'skipped_tombstone') {
        return { outcome: applied.outcome, forwarded: 'skipped' };
      }
      // `current`: an earlier try of this job stored it; `unchanged`: another job stored this very state.
      const outcome = applied.outcome === 'unchanged' ? 'unchanged' : 'applied';
      if (applied.outcome === 'applied') onApplied?.();
      if (applied.outcome === 'current') context.log.info({ version }, 'this version was stored by an earlier try');
      if (!forward || !lock) return { outcome, forwarded: 'disabled' };
      if (gate === 'already') return { outcome, forwarded: 'already' };
      if (gate === 'busy') {
        // Retried well within a forward's time, with jitter so that waiting jobs do not come back together.
        const waitMs = Math.round(50 + random() * 200);
        context.log.debug({ waitMs }, 'a forward of this entity is in flight: waiting for it');
        onForwardWait?.(outgoing.eventType);
        await context.stepAside(waitMs);
        continue;
      }

      try {
        // The version must outlive a failover before the target hears of it: were the store write
        // lost with the primary, a re-run of an older job could reach the target after this one.
        // (A completion lost that way only repeats this forward, under the same webhook-id.)
        await replicas?.confirm(since);
      } catch (error) {
        await mark.release(lock.token).catch(() => undefined);
        if (!(error instanceof ReplicaWaitError)) throw error;
        // Too few replicas, or a failover under the WAIT: nothing was sent. Like Redis being away,
        // that costs the job no attempt (/readyz reports it): it steps aside and decides again.
        const waitMs = Math.round(1_000 + random() * 1_000);
        context.log.debug({ waitMs, reason: error.message }, 'the replicas did not confirm the version: waiting');
        await context.stepAside(waitMs);
        continue;
      }

      try {
        const { status } = await forward({
          id: outgoing.id?.(version) ?? context.idempotencyKey,
          eventType: outgoing.eventType,
          versionClock: outgoing.versionClock,
          requestId: context.requestId,
          version,
          body: outgoing.body(version),
        });
        context.log.debug({ status, version }, 'forwarded');
      } catch (error) {
        // A forward that may still be running at the target (a timeout, a cut connection) keeps
        // the lock until it lapses (the route's timeout + 2 s after it was taken): the next event of
        // this entity does not overtake it there. Otherwise the lock goes at once.
        if (error instanceof RetryableForwardError && error.mayBeInFlight) {
          await mark.mayHaveForwarded(version).catch(() => undefined);
        } else {
          await mark.release(lock.token).catch(() => undefined);
        }
        throw error;
      }
      await mark.forwarded(version, lock.token);
      return { outcome, forwarded: 'sent' };
    }
  };
}

export type OrderedForward = ReturnType<typeof createOrderedForward>;
