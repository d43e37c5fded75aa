import {
  API_ENTITIES,
  API_FAMILIES,
  type ApiFamily,
  apiFamilyOf,
  BUILT_IN_HANDLERS,
  type EventType,
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
 * The route a family's reconciled states go out by: the one that takes its update event
 * (`invoice.update`), else the first that takes any of its API-backed events. Customers are kept
 * by the store whatever the routes.
 */
function syncRoute(family: ApiFamily, routes: ForwardTargets['routes']) {
  const update = API_ENTITIES[family].update;
  return (
    routes.find(({ route }) => route.claims.includes(update)) ??
    routes.find(({ route }) => route.claims.some((type) => apiFamilyOf(type) === family))
  );
}

export function syncKeeper(family: ApiFamily, deps: ReconcilerDeps): Keeper | undefined {
  if (family === 'customer') return deps.customers;
  const found = syncRoute(family, deps.routes);
  if (!found) return undefined;
  return createRouteKeeper({
    family,
    marks: deps.marks,
    url: found.route.url,
    target: found.target,
    onForwardWait: deps.onForwardWait,
    replicas: deps.replicas,
  });
}

/**
 * The families `pnpm sync` reads when none is named: every API-backed family one of whose event
 * types ENQUEUE_EVENTS queues and a built-in handler or a route takes, and that the API can list
 * (credit notes cannot: they are read on notify only).
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
