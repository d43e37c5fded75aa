import { type Auth, type Delivery, makePool, Sequence } from './deliveries.js';
import { type LoadOptions, type LoadResult, load } from './load.js';
import type { BenchOptions } from './options.js';
import { log, Processes } from './processes.js';
import { type BenchRedis, startBenchRedis } from './redis.js';

/** What every scenario runs with: no module-level state, everything it starts goes through here. */
export interface BenchContext {
  readonly options: BenchOptions;
  readonly redis: BenchRedis;
  readonly processes: Processes;
  readonly sequence: Sequence;
  log(message: string): void;
  /** Distinct deliveries (see `makePool`). */
  pool(count: number, auth: Auth, customers?: number): Delivery[];
  /** Load on `port` with the run's load generator and connections (see `load`). */
  load(port: number, pool: Delivery[], options: LoadOptions): Promise<LoadResult>;
}

/** Starts the run's Redis; everything else starts with the scenarios. */
export async function createContext(options: BenchOptions): Promise<BenchContext> {
  const redis = await startBenchRedis(options.appendfsync);
  const sequence = new Sequence();
  return {
    options,
    redis,
    processes: new Processes(),
    sequence,
    log,
    pool: (count, auth, customers) => makePool(sequence, count, auth, customers),
    load: (port, pool, loadOptions) => load(options, port, pool, loadOptions),
  };
}
