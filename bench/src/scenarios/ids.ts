/**
 * The stable ids of the scenarios, in the order a run runs them: the keys of `results` in
 * bench/results/latest.json and the values of `--only`. Display labels may change; these do not.
 */
export const SCENARIO_IDS = ['receivers', 'redisRoundTrips', 'workerDrains', 'endToEnd', 'soak'] as const;
export type ScenarioId = (typeof SCENARIO_IDS)[number];
