import {
  API_ENTITIES,
  API_FAMILIES,
  type ApiFamily,
  apiFamilyOf,
  BUILT_IN_HANDLERS,
  type EventType,
  isAnnouncement,
  routeFor,
} from '@flexprice/contracts';
import type { RedisClient, ReplicaWait } from '@flexprice/runtime';
import type { Logger } from 'pino';
import type { EntityMarks } from '../ordering/entity-marks.js';
import type { FlexpriceApi } from '../outbound/flexprice-api.js';
import type { ForwardTargets } from '../outbound/forward-targets.js';
import { createRouteKeeper, type Keeper } from './keepers.js';
import { isSyncable, type SyncSummary, syncFamily } from './sync.js';

/**
 * One reconciler for every API-backed family (`pnpm sync`, `SYNC_INTERVAL`): which families it
 * reads, and with which keeper each one's states are applied.
 */
export interface ReconcilerDeps {
  api: FlexpriceApi;
  /** The customer store and the customer route. */
  customers: Keeper;
  marks: EntityMarks;
  routes: ForwardTargets['routes'];
  onForwardWait?: ((eventType: string) => void) | undefined;
  replicas?: ReplicaWait | undefined;
}

/**
 * Where a family's reconciled states go: customers to the store (and its route); any other family
 * to every route that takes one of its state events, each with its own marks, as the family's
 * update event (`invoice.update`) or, for a route that does not take it, the first of the family's
 * events it takes (`invoice.update.payment`): the reconciler reads a state, not the event that
 * made it, and a service applies the newest state whatever the event type says.
 */
export function syncKeeper(family: ApiFamily, deps: ReconcilerDeps): Keeper | undefined {
  if (family === 'customer') return deps.customers;
  const update = API_ENTITIES[family].update;
  const keepers = deps.routes.flatMap(({ route, target }) => {
    const sentAs = route.claims.includes(update)
      ? update
      : route.claims.find((type) => apiFamilyOf(type) === family && !isAnnouncement(type));
    if (sentAs === undefined) return [];
    const keeper = createRouteKeeper({
      family,
      marks: deps.marks,
      url: route.url,
      target,
      onForwardWait: deps.onForwardWait,
      replicas: deps.replicas,
    });
    const perRoute: Keeper = {
      apply: (state, context, onApplied) =>
        keeper.apply(
          { ...state, eventType: state.deleting ? state.eventType : sentAs, requested: sentAs },
          context,
          onApplied,
        ),
      lastVersion: keeper.lastVersion,
    };
    return [perRoute];
  });
  const [only] = keepers;
  if (keepers.length <= 1) return only;
  return {
    // One route after the other: the state is applied (and forwarded) where it was not yet.
    async apply(state, context, onApplied) {
      let applied = false;
      let sent = false;
      let outcome = 'unchanged';
      for (const keeper of keepers) {
        const result = await keeper.apply(state, context, () => {
          applied = true;
        });
        sent ||= result.forwarded === 'sent';
        if (result.outcome === 'applied') outcome = 'applied';
      }
      if (applied) onApplied?.();
      return { outcome, forwarded: sent ? 'sent' : 'already' };
    },
    // The oldest of the routes' versions: what a dry run compares with (one route behind is work).
    async lastVersion(id) {
      const versions = await Promise.all(keepers.map((keeper) => keeper.lastVersion(id)));
      return versions.some((v) => v === undefined) ? undefined : versions.sort()[0];
    },
  };
}

/**
 * The families `pnpm sync` reads when none is named: every API-backed family one of whose event
 * types ENQUEUE_EVENTS queues and a built-in handler or a route takes, and that the API can list
 * (credit notes cannot: they are read on notify only). One whose update event no route takes is
 * then skipped, saying so.
 */
export function defaultSyncFamilies(enqueued: readonly EventType[], routes: ForwardTargets['routes']): ApiFamily[] {
  const taken = enqueued.filter(
    (type) =>
      BUILT_IN_HANDLERS.includes(type) ||
      routeFor(
        routes.map(({ route }) => route),
        type,
      ) !== undefined,
  );
  return API_FAMILIES.filter((family) => isSyncable(family) && taken.some((type) => apiFamilyOf(type) === family));
}

/** What a family's run did, or why it was not run. */
export type FamilyRun = (SyncSummary & { skipped?: undefined }) | { skipped: string };

export interface RunSyncOptions {
  families: readonly ApiFamily[];
  deps: ReconcilerDeps;
  redis: RedisClient;
  prefix: string;
  log: Logger;
  since?: string | undefined;
  dryRun?: boolean;
  pageSize?: number;
  onPage?: Parameters<typeof syncFamily>[0]['onPage'];
  onRefused?: (family: ApiFamily) => void;
  onApplied?: (family: ApiFamily) => void;
  /** A family's run ended (its summary): the scheduler's metrics. */
  onFamilyDone?: (family: ApiFamily, summary: SyncSummary) => void;
}

/**
 * Runs the reconciler over `families`, one after the other. A family that nothing would keep (no
 * route takes its events) or that the API cannot list is skipped, and says why. A failure ends the
 * run (the next resumes from the watermarks).
 */
export async function runSync(options: RunSyncOptions): Promise<Partial<Record<ApiFamily, FamilyRun>>> {
  const results: Partial<Record<ApiFamily, FamilyRun>> = {};
  for (const family of options.families) {
    if (!isSyncable(family)) {
      results[family] = { skipped: "Flexprice's API has no list of this family: it is read on notify only" };
      continue;
    }
    const keeper = syncKeeper(family, options.deps);
    if (!keeper) {
      results[family] = { skipped: `no route takes ${family} events: nothing would keep what the sync reads` };
      continue;
    }
    const summary = await syncFamily({
      api: options.deps.api,
      family,
      keeper,
      redis: options.redis,
      prefix: options.prefix,
      log: options.log,
      since: options.since,
      dryRun: options.dryRun,
      pageSize: options.pageSize,
      onPage: options.onPage,
      onRefused: () => options.onRefused?.(family),
      onApplied: () => options.onApplied?.(family),
    });
    results[family] = summary;
    options.onFamilyDone?.(family, summary);
  }
  return results;
}
