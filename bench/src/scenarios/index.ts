import { type ClusterSpreadResult, clusterSpread } from './cluster-spread.js';
import { type EndToEndResult, endToEnd } from './end-to-end.js';
import type { ScenarioId } from './ids.js';
import { type ReceiversResult, receivers } from './receivers.js';
import { type RedisRoundTripsResult, redisRoundTrips } from './redis-round-trips.js';
import { type ReplicaWaitResult, replicaWait } from './replica-wait.js';
import type { Scenario } from './scenario.js';
import { type SoakResult, soak } from './soak.js';
import { type SystemCostResult, systemCost } from './system-cost.js';
import { type WorkerDrainsResult, workerDrains } from './worker-drains.js';

/** What each scenario produces, by id; `null` when the run did not include it. */
export interface Results {
  receivers: ReceiversResult | null;
  redisRoundTrips: RedisRoundTripsResult | null;
  replicaWait: ReplicaWaitResult | null;
  workerDrains: WorkerDrainsResult | null;
  systemCost: SystemCostResult | null;
  clusterSpread: ClusterSpreadResult | null;
  endToEnd: EndToEndResult | null;
  soak: SoakResult | null;
}

type Scenarios = { [Id in ScenarioId]: Scenario<Id, NonNullable<Results[Id]>> };

export const SCENARIOS: Scenarios = {
  receivers,
  redisRoundTrips,
  replicaWait,
  workerDrains,
  systemCost,
  clusterSpread,
  endToEnd,
  soak,
};

export const noResults = (): Results => ({
  receivers: null,
  redisRoundTrips: null,
  replicaWait: null,
  workerDrains: null,
  systemCost: null,
  clusterSpread: null,
  endToEnd: null,
  soak: null,
});

export type { ReceiverId } from './contenders.js';
export { SCENARIO_IDS, type ScenarioId } from './ids.js';
export type { DrainId } from './worker-drains.js';
