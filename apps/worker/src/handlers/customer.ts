import { type CustomerEvent, eventVersion } from '@flexprice/contracts';
import type { ReplicaWait } from '@flexprice/runtime';
import { UnrecoverableError } from 'bullmq';
import { type CustomerState, provisionalTombstone, stateFromApi } from '../entities/api-state.js';
import type { CustomerFetcher } from '../entities/fetcher.js';
import type { CustomerStore } from '../ordering/customer-store.js';
import type { NotFoundConfirmation } from '../ordering/not-found.js';
import { type ApplyContext, createOrderedForward, jobApplyContext } from '../ordering/ordered-forward.js';
import type { Mark } from '../ordering/versioned-store.js';
import { FlexpriceApiError } from '../outbound/flexprice-api.js';
import type { Forward } from '../outbound/forwarder.js';
import type { HandlerContext, HandlerResult } from './types.js';

/** A forward target, with what it takes. */
export interface ForwardTarget {
  send: Forward;
  /** Its timeout: the forward lock outlives it. */
  timeoutMs: number;
  /** Whether it takes this event type (a route's pattern may leave some customer events out). */
  takes: (eventType: string) => boolean;
}

export interface CustomerHandlerDeps {
  store: CustomerStore;
  /** The customer route (CUSTOMER_FORWARD_URL, or a FORWARD_ROUTES pattern); unset: store only. */
  forward: ForwardTarget | undefined;
  /** Set with FLEXPRICE_API_KEY: each job reads the customer's state from the API. */
  fetcher?: CustomerFetcher | undefined;
  /** With the fetcher: when a 404 is confirmed (a second read of the job, later), and when to read again. */
  notFound?: NotFoundConfirmation | undefined;
  /** Whether the API key serves an environment (asks the API when none is known; undefined: none found). */
  servesEnvironment?: ((environmentId: string) => Promise<boolean | undefined>) | undefined;
  /** Customer jobs running in this process now (the fetcher batches while they wait). */
  jobsInFlight?: { count: number };
  /** Counts a job stepping aside while another forward of its customer is in flight. */
  onForwardWait?: ((eventType: string) => void) | undefined;
  /** Counts a state this process stored, by where it came from. */
  onApplied?: ((source: CustomerState['source']) => void) | undefined;
  /** Random source of the lock-wait jitter (tests make it fixed). */
  random?: (() => number) | undefined;
  /** REDIS_WAIT_REPLICAS > 0: a stored state is forwarded once the replicas hold it. */
  replicas?: ReplicaWait | undefined;
}

/** The version of the state a webhook job carries (contracts' `versions.ts`). */
export function customerVersion(event: CustomerEvent, context: Pick<HandlerContext, 'job' | 'receipt'>): string {
  return eventVersion(event.event_type, event, context.receipt, context.job.id ?? '');
}

/**
 * Stores a customer's state if it is newer than the stored one (tombstones final), then forwards
 * it through the ordered forward (`ordered-forward.ts`): one forward per customer at a time, never
 * an older state after a newer one was acknowledged. The body is the event with its `version`.
 */
export function createCustomerApplier(deps: Omit<CustomerHandlerDeps, 'fetcher'>) {
  const { store, forward, onApplied } = deps;
  const shared = { onForwardWait: deps.onForwardWait, random: deps.random };
  const forwarding = createOrderedForward({
    ...shared,
    forward: forward?.send,
    forwardTimeoutMs: forward?.timeoutMs ?? 0,
    replicas: deps.replicas,
  });
  const storing = createOrderedForward({ ...shared, forward: undefined, forwardTimeoutMs: 0 });

  return async function applyState(state: CustomerState, context: ApplyContext): Promise<HandlerResult> {
    const { event } = state;
    const id = event.customer.id;
    const ordered = forward?.takes(event.event_type) ? forwarding : storing;
    const mark: Mark = {
      apply: (lock) =>
        store.apply(event, {
          version: state.version,
          idempotencyKey: context.idempotencyKey,
          pinToDelivery: state.pinToDelivery,
          provisional: state.provisional === true,
          lock,
        }),
      forwarded: (version, token) => store.forwarded(id, version, token),
      release: (token) => store.releaseForward(id, token),
      // A newer customer state is stored before it is forwarded: an older one is stale already.
      mayHaveForwarded: async () => {},
    };
    const outgoing = { eventType: event.event_type, body: (version: string) => ({ ...event, version }) };
    return ordered(mark, outgoing, context, () => onApplied?.(state.source));
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

  /** An API call of the job: a retryable failure is the job's to retry; any other is permanent (a refused key: loud). */
  async function fromApi<T>(call: () => Promise<T>, context: HandlerContext): Promise<T> {
    try {
      return await call();
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
  }

  async function apiState(event: CustomerEvent, context: HandlerContext): Promise<CustomerState> {
    const customer = await fromApi(async () => deps.fetcher?.fetch(event.customer.id), context);
    if (customer !== undefined) return stateFromApi(customer, event.event_type, 'api');
    // Flexprice soft-deletes (archived, still readable): a 404 means the id is unknown in the key's
    // environment. From another environment (several Svix endpoints, or one native URL for a whole
    // tenant, on one receiver) it says nothing about the customer, and a tombstone would delete a
    // live one. In the key's own environment it is a deletion only once confirmed (a second read,
    // later: `not-found.ts`), and even then a provisional one: a later live state supersedes it.
    const environmentId = event.customer.environment_id;
    if ((await fromApi(async () => deps.servesEnvironment?.(environmentId), context)) === true) {
      const verdict = deps.notFound ? await deps.notFound.check(context.job.id ?? '') : { confirmed: true as const };
      if (!verdict.confirmed) {
        context.log.info(
          { customerId: event.customer.id, readAgainInMs: verdict.readAgainInMs },
          "Flexprice's API does not know this customer (404): reading it again before taking it as deleted",
        );
        // Back to the delayed set, no attempt spent; the next read decides.
        const waitMs = verdict.readAgainInMs + Math.round(Math.random() * 250);
        await jobApplyContext(context).stepAside(waitMs, 'the customer is read again before a 404 is taken as deleted');
      }
      return provisionalTombstone(event, (await deps.store.get(event.customer.id))?.version);
    }
    throw new UnrecoverableError(
      `Flexprice's API has no customer ${event.customer.id} under FLEXPRICE_API_KEY, and the key is not known to serve ` +
        `the webhook's environment ${environmentId}: not stored. Run one worker deployment (own queue prefix) per environment.`,
    );
  }

  return async function handleCustomerEvent(event: CustomerEvent, context: HandlerContext): Promise<HandlerResult> {
    const { receipt } = context;
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
    return applyState(state, jobApplyContext(context));
  };
}
