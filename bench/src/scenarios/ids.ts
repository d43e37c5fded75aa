/**
 * The stable ids of the scenarios, in the order a run runs them: the keys of `results` in
 * bench/results/latest.json and the values of `--only`. Display labels may change; these do not.
 */
export const SCENARIO_IDS = [
  'receivers',
  'redisRoundTrips',
  'replicaWait',
  'workerDrains',
  'systemCost',
  'clusterSpread',
  'endToEnd',
  'soak',
] as const;
export type ScenarioId = (typeof SCENARIO_IDS)[number];

/** The stable ids of the worker drains (`workerDrains`), in the order they run: `BENCH_DRAINS` picks some. */
export const DRAIN_IDS = [
  'naiveWorker',
  'oursStore1',
  'oursStore2',
  'oursApiBacked1',
  'oursApiSubscriptions1',
  'oursApiInvoices1',
  'oursForward1',
  'oursForward2',
  'oursInvoicesDistinct1',
  'oursInvoicesTen1',
] as const;
export type DrainId = (typeof DRAIN_IDS)[number];
