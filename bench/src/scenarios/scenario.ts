import type { BenchContext } from '../context.js';
import type { ScenarioId } from './ids.js';

/** One part of a run: what it measures, under a stable id, with a typed result. */
export interface Scenario<Id extends ScenarioId, Result> {
  readonly id: Id;
  /** What it measures, for the log. */
  readonly title: string;
  run(ctx: BenchContext): Promise<Result>;
}
