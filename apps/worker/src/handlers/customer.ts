import { randomUUID } from 'node:crypto';
import { acceptedMicrosOf, type CustomerEvent, payloadVersionOf, stateVersion } from '@flexprice/contracts';
import { DelayedError, UnrecoverableError } from 'bullmq';
import type { Logger } from 'pino';
import { type CustomerState, stateFromApi, tombstoneFromWebhook } from '../customer-api-state.js';
import type { CustomerFetcher } from '../customer-fetcher.js';
import type { CustomerStore } from '../customer-store.js';
import { FlexpriceApiError } from '../flexprice-api.js';
import type { Forward } from '../forwarder.js';
import type { HandlerContext, HandlerResult } from './types.js';

export interface CustomerHandlerDeps {
  store: CustomerStore;
  /** Unset when CUSTOMER_FORWARD_URL is not configured. */
  forward: Forward | undefined;
  /** Set with FLEXPRICE_API_KEY: each job reads the customer's state from the API. */
  fetcher?: CustomerFetcher | undefined;
  /** Whether the API key serves an environment (undefined: not known yet). */
  servesEnvironment?: (environmentId: string) => boolean | undefined;
  /** Customer jobs running in this process now (the fetcher batches while they wait). */
  jobsInFlight?: { count: number };
  /** How long a forward may take (CUSTOMER_FORWARD_TIMEOUT_MS): the forward lock outlives it. */
  forwardTimeoutMs?: number | undefined;
  /** Counts a job stepping aside while another forward of its customer is in flight. */
  onForwardWait?: () => void;
  /** Counts a state this process stored, by where it came from. */
  onApplied?: (source: CustomerState['source']) => void;
  /** Random source of the lock-wait jitter (tests make it fixed). */
  random?: () => number;
}

/**
 * The forward lock outlives the forward's own timeout by this much (the scripts around it take
 * milliseconds). A worker that dies mid-forward holds its customer's lock no longer than that.
 */
const LOCK_MARGIN_MS = 2_000;

/** The version of the state a webhook job carries (contracts' `versions.ts`). */
export function customerVersion(event: CustomerEvent, context: Pick<HandlerContext, 'job' | 'receipt'>): string {
  return stateVersion({
    deleted: event.event_type === 'customer.deleted',
    payloadTime: payloadVersionOf(event.event_type, event),
    acceptedMicros: acceptedMicrosOf(context.receipt),
    tieBreak: context.job.id ?? '',
  });
}

export interface ApplyContext {
  /** The idempotency key the forward carries as `webhook-id`. */
  idempotencyKey: string;
  requestId: string;
  log: Logger;
  /**
   * Another forward of this customer is in flight: wait `ms`, then the state is decided again. A
   * job steps aside in BullMQ (and never returns); the reconciler sleeps.
   */
  stepAside: (ms: number) => Promise<void>;
}

/**
 * Stores a customer's state if it is newer than the stored one (tombstones final), then forwards
 * it, one forward per customer at a time and never an older state after a newer one was
 * acknowledged:
 *
 * - superseded before its forward succeeded (on a retry, a replay or while waiting): done as
 *   `skipped_stale` without forwarding; the newer state's own job forwards that one;
 * - another forward of the customer in flight: step aside for a moment and decide again;
 * - a forward repeated after a crash between the target's 2xx and our record of it carries the
 *   same `webhook-id`, and the version lets the target apply only what is newer.
 */
export function createCustomerApplier(deps: Omit<CustomerHandlerDeps, 'fetcher'>) {
  const { store, forward, onForwardWait, onApplied, random = Math.random } = deps;
  const lockTtlMs = (deps.forwardTimeoutMs ?? 10_000) + LOCK_MARGIN_MS;

  return async function applyState(state: CustomerState, context: ApplyContext): Promise<HandlerResult> {
    const { event } = state;
    for (;;) {
      const lock = forward ? { token: randomUUID(), ttlMs: lockTtlMs } : undefined;
      const applied = await store.apply(event, {
        version: state.version,
        idempotencyKey: context.idempotencyKey,
        pinToDelivery: state.pinToDelivery,
        lock,
      });
      const { forward: gate, version } = applied;
      if (applied.outcome === 'skipped_stale' || applied.outcome === 'skipped_tombstone') {
        return { outcome: applied.outcome, forwarded: 'skipped' };
      }
      // `current`: an earlier try of this job stored it; `unchanged`: another job stored this very state.
      const outcome = applied.outcome === 'unchanged' ? 'unchanged' : 'applied';
      if (applied.outcome === 'applied') onApplied?.(state.source);
      if (applied.outcome === 'current') context.log.info({ version }, 'this state was stored by an earlier try');
      if (!forward || !lock) return { outcome, forwarded: 'disabled' };
      if (gate === 'already') return { outcome, forwarded: 'already' };
      if (gate === 'busy') {
        // Retried well within a forward's time, with jitter so that waiting jobs do not come back together.
        const waitMs = Math.round(50 + random() * 200);
        context.log.debug({ waitMs }, 'a forward of this customer is in flight: waiting for it');
        onForwardWait?.();
        await context.stepAside(waitMs);
        continue;
      }

      try {
        const { status } = await forward({
          id: context.idempotencyKey,
          eventType: event.event_type,
          requestId: context.requestId,
          version,
          body: { ...event, version },
        });
        context.log.debug({ status, version }, 'forwarded');
      } catch (error) {
        await store.releaseForward(event.customer.id, lock.token).catch(() => undefined);
        throw error;
      }
      await store.forwarded(event.customer.id, version, lock.token);
      return { outcome, forwarded: 'sent' };
    }
  };
}

/**
 * customer.created / .updated / .deleted. Webhook-only: the state is the webhook body's, versioned
 * by its payload time or the time it was accepted. With FLEXPRICE_API_KEY the webhook is a
 * notification: the state is the API's (fetch on notify), versioned by its `updated_at`; the body
 * stays in the job as evidence. API failures are the job's: retried with its backoff (at least
 * `Retry-After`), or permanent (a refused key: loud).
 */
export function createCustomerHandler(deps: CustomerHandlerDeps) {
  const applyState = createCustomerApplier(deps);

  async function apiState(event: CustomerEvent, context: HandlerContext): Promise<CustomerState> {
    let customer: Awaited<ReturnType<CustomerFetcher['fetch']>>;
    try {
      customer = await deps.fetcher?.fetch(event.customer.id);
    } catch (error) {
      if (!(error instanceof FlexpriceApiError) || error.failure === 'retryable') throw error;
      if (error.failure === 'unauthorized') {
        context.log.error(
          { err: { message: error.message } },
          'FLEXPRICE_API_KEY was refused: customer jobs fail until it is fixed (then pnpm dlq retry --all)',
        );
      }
      throw new UnrecoverableError(error.message);
    }
    if (customer !== undefined) return stateFromApi(customer, event.event_type, 'api');
    // Flexprice soft-deletes (archived, still readable): a 404 means the id never existed in the
    // key's environment. In the key's own environment that is a customer gone for good; from
    // another environment (several Svix endpoints, or one native URL for a whole tenant, on one
    // receiver) it says nothing about the customer, and a tombstone would delete a live one.
    const environmentId = event.customer.environment_id;
    if (deps.servesEnvironment?.(environmentId) === true) {
      return tombstoneFromWebhook(event, acceptedMicrosOf(context.receipt));
    }
    throw new UnrecoverableError(
      `Flexprice's API has no customer ${event.customer.id} under FLEXPRICE_API_KEY, and the key is not known to serve ` +
        `the webhook's environment ${environmentId}: not stored. Run one worker deployment (own queue prefix) per environment.`,
    );
  }

  return async function handleCustomerEvent(event: CustomerEvent, context: HandlerContext): Promise<HandlerResult> {
    const { job, token, receipt, log } = context;
    const inFlight = deps.jobsInFlight ?? { count: 0 };
    inFlight.count += 1;
    let state: CustomerState;
    try {
      state = deps.fetcher
        ? await apiState(event, context)
        : {
            event,
            version: customerVersion(event, context),
            pinToDelivery: receipt.deliveryId !== null,
            source: 'webhook',
          };
    } finally {
      inFlight.count -= 1;
    }
    return applyState(state, {
      idempotencyKey: receipt.idempotencyKey,
      requestId: receipt.requestId,
      log,
      async stepAside(ms) {
        if (token === undefined) throw new Error('a forward of this customer is in flight; retry later');
        await job.moveToDelayed(Date.now() + ms, token);
        throw new DelayedError();
      },
    });
  };
}
