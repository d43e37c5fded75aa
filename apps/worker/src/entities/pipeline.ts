import {
  API_ENTITIES,
  type ApiFamily,
  ENTITY_CATALOG,
  isAnnouncement,
  payloadVersionOf,
  timestampNanos,
  valueAt,
  type WebhookEvent,
} from '@flexprice/contracts';
import { UnrecoverableError } from 'bullmq';
import type { HandlerContext, HandlerResult } from '../handlers/types.js';
import type { NotFoundConfirmation } from '../ordering/not-found.js';
import { jobApplyContext } from '../ordering/ordered-forward.js';
import { type FlexpriceApi, FlexpriceApiError } from '../outbound/flexprice-api.js';
import { type EntityState, isDeletable, provisionalTombstone, stateFromApi } from './api-state.js';
import { createEntityFetcher, type EntityFetcher } from './fetcher.js';
import type { Keeper } from './keepers.js';

/**
 * Fetch on notify, for every API-backed family: with FLEXPRICE_API_KEY a webhook is a notification,
 * and what its job applies is the entity as Flexprice's API answers it now (read in batches with the
 * other jobs of its family), versioned by its `updated_at`; the body stays in the job as evidence.
 * A stale delivery of any kind (a Svix retry of old content, a native replay, `pnpm dlq retry`)
 * therefore ends at the API's current state, and a state already applied is not forwarded again.
 *
 * An entity the API does not know (404): from another environment it says nothing (a dead letter
 * that says so); otherwise it is read again later (`not-found.ts`) and only a second 404 counts:
 * for a family with a deletion event, in the key's own environment, a provisional tombstone
 * forwarded as that event; for any other, a dead letter saying that Flexprice's API does not know
 * the entity. Never a forward of the body. API failures are the job's: retried with its backoff (at
 * least `Retry-After`), or permanent (a refused key: loud).
 */
export interface ApiPipelineDeps {
  api: FlexpriceApi;
  notFound: NotFoundConfirmation;
  /** Counts a state stored or forwarded, by family and where it came from. */
  onApplied?: ((family: ApiFamily, source: EntityState['source']) => void) | undefined;
}

/** Whether an earlier try of the job read a 404 (and left a mark in `not-found.ts`). */
const hadNotFound = (job: HandlerContext['job']) =>
  typeof job.progress === 'object' &&
  job.progress !== null &&
  (job.progress as { notFound?: unknown }).notFound === true;

export function createApiPipeline(deps: ApiPipelineDeps) {
  const { api } = deps;
  const fetchers = new Map<ApiFamily, EntityFetcher>();
  /**
   * Jobs of each family reading their entity now, from the start of the read to its answer (not
   * the jobs still storing or forwarding, which will not join a batch): its fetcher's batch waits
   * for these at most.
   */
  const reading = new Map<ApiFamily, number>();

  function fetcherOf(family: ApiFamily): EntityFetcher {
    let fetcher = fetchers.get(family);
    if (!fetcher) {
      fetcher = createEntityFetcher(api, family, { readingJobs: () => reading.get(family) ?? 0 });
      fetchers.set(family, fetcher);
    }
    return fetcher;
  }

  /** An API call of the job: a retryable failure is the job's to retry; any other is permanent (a refused key: loud). */
  async function fromApi<T>(call: () => Promise<T>, context: HandlerContext): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof FlexpriceApiError) || error.failure === 'retryable') throw error;
      if (error.failure === 'unauthorized') {
        context.log.error(
          { err: { message: error.message } },
          'FLEXPRICE_API_KEY was refused: API-backed jobs fail until it is fixed (then pnpm dlq retry --all)',
        );
      }
      throw new UnrecoverableError(error.message);
    }
  }

  /** The environment a webhook body says its entity lives in, when it says. */
  function environmentOf(family: ApiFamily, event: WebhookEvent): string | undefined {
    for (const path of API_ENTITIES[family].environment) {
      const value = valueAt(event, path);
      if (typeof value === 'string' && value.length > 0) return value;
    }
    return undefined;
  }

  async function readState(
    family: ApiFamily,
    keeper: Keeper,
    event: WebhookEvent,
    context: HandlerContext,
  ): Promise<EntityState> {
    const idPath = ENTITY_CATALOG[context.eventType].id;
    const id = idPath === null ? undefined : valueAt(event, idPath);
    if (typeof id !== 'string') throw new UnrecoverableError(`the ${family} event names no ${family} id`);
    const entity = await fromApi(() => fetcherOf(family).fetch(id), context);
    if (entity !== undefined) {
      // A 404 of an earlier try of this job is disproved: the next 404, if any, starts over.
      if (hadNotFound(context.job)) {
        await deps.notFound.clear(context.job.id ?? '');
        await context.job.updateProgress({});
      }
      // A webhook whose body carries its own time (an invoice's `updated_at`, a legacy payload's)
      // proves the entity was at least that new: an answer older than that is a read behind (a
      // replica), and forwarding it would leave the newer state unsent. The job tries again later.
      const bodyTime = timestampNanos(payloadVersionOf(context.eventType, event) ?? '');
      const apiTime = timestampNanos(entity.updatedAt ?? '');
      if (bodyTime !== undefined && apiTime !== undefined && apiTime < bodyTime) {
        throw new Error(
          `Flexprice's API answered ${family} ${id} as of ${entity.updatedAt}, older than the webhook's ` +
            `${payloadVersionOf(context.eventType, event)}: a read behind; it is read again with the job's backoff`,
        );
      }
      const state = stateFromApi(family, entity, context.eventType, 'api');
      return { ...state, announcement: isAnnouncement(context.eventType) && !state.deleting };
    }

    // Flexprice soft-deletes (archived, still readable): a 404 means the id is unknown in the key's
    // environment. From another environment (several Svix endpoints, or one native URL for a whole
    // tenant, on one receiver) it says nothing about the entity, and a tombstone would delete a
    // live one.
    const environmentId = environmentOf(family, event);
    const served =
      environmentId === undefined ? undefined : await fromApi(() => api.servesEnvironment(environmentId), context);
    if (served === false) {
      throw new UnrecoverableError(
        `Flexprice's API has no ${family} ${id} under FLEXPRICE_API_KEY, and the key is not known to serve ` +
          `the webhook's environment ${environmentId}: not stored. Run one worker deployment (own queue prefix) per environment.`,
      );
    }
    const verdict = await deps.notFound.check(context.job.id ?? '');
    // The job's progress says it has a 404 mark: a later read that finds the entity clears it.
    if (!hadNotFound(context.job)) await context.job.updateProgress({ notFound: true });
    if (!verdict.confirmed) {
      context.log.info(
        { family, entityId: id, readAgainInMs: verdict.readAgainInMs },
        "Flexprice's API does not know this entity (404): reading it again before acting on it",
      );
      // Back to the delayed set, no attempt spent; the next read decides.
      const waitMs = verdict.readAgainInMs + Math.round(Math.random() * 250);
      await jobApplyContext(context).stepAside(waitMs, `the ${family} is read again before a 404 is acted on`);
    }
    if (isDeletable(family) && served === true) {
      // Forwarded as the webhook's own body, as a deletion: the API has nothing else to say of it.
      return provisionalTombstone(
        family,
        id,
        event as Record<string, unknown>,
        await keeper.lastVersion(id),
        context.eventType,
      );
    }
    throw new UnrecoverableError(
      `Flexprice's API does not know ${family} ${id} under FLEXPRICE_API_KEY (404, read twice): nothing forwarded. ` +
        (isDeletable(family)
          ? `The webhook does not say the key's environment serves it${environmentId === undefined ? '' : ` (${environmentId})`}; `
          : '') +
        'an entity of another environment needs a worker deployment (own queue prefix) of its own.',
    );
  }

  return {
    /** The handler of an API-backed event type of `family`, applying through `keeper`. */
    handler(family: ApiFamily, keeper: Keeper) {
      return async function handleApiBacked(event: WebhookEvent, context: HandlerContext): Promise<HandlerResult> {
        reading.set(family, (reading.get(family) ?? 0) + 1);
        let state: EntityState;
        try {
          state = await readState(family, keeper, event, context);
        } finally {
          reading.set(family, (reading.get(family) ?? 1) - 1);
        }
        return keeper.apply(state, jobApplyContext(context), () => deps.onApplied?.(family, state.source));
      };
    },
  };
}

export type ApiPipeline = ReturnType<typeof createApiPipeline>;
