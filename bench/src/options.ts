import { spawnSync } from 'node:child_process';
import { DRAIN_IDS, type DrainId, SCENARIO_IDS, type ScenarioId } from './scenarios/ids.js';

export type AppendFsync = 'always' | 'everysec' | 'no';
export type LoadGenerator = 'wrk' | 'autocannon';

/** Everything a run is configured by: the command line and the `BENCH_*` environment (see run.ts). */
export interface BenchOptions {
  /** The scenarios to run, in the order they run. */
  scenarios: ScenarioId[];
  /** Measured seconds per receiver round (BENCH_SECONDS). */
  seconds: number;
  /** Interleaved rounds per receiver; the median is reported (BENCH_ROUNDS). */
  rounds: number;
  /** Jobs per worker drain (BENCH_JOBS). */
  jobs: number;
  /** Offered req/s of the end-to-end and soak runs (BENCH_RATE). */
  rate: number;
  /** Redis' AOF fsync policy (BENCH_APPENDFSYNC). */
  appendfsync: AppendFsync;
  /** The load generator of the throughput runs (BENCH_LOADGEN); fixed-rate runs always use autocannon. */
  loadGenerator: LoadGenerator;
  /** The worker drains to run (BENCH_DRAINS, comma-separated ids); undefined: all of them. */
  drains: DrainId[] | undefined;
  /** Connections of the throughput runs. */
  connections: number;
}

/** The scenarios of a plain `pnpm bench`; `--soak` adds `soak`. */
const DEFAULT_SCENARIOS: ScenarioId[] = [
  'receivers',
  'redisRoundTrips',
  'replicaWait',
  'workerDrains',
  'systemCost',
  'clusterSpread',
  'endToEnd',
];

function positiveInteger(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, not ${raw}`);
  return value;
}

function oneOf<T extends string>(env: NodeJS.ProcessEnv, name: string, allowed: readonly T[], fallback: () => T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback();
  if (!(allowed as readonly string[]).includes(raw)) throw new Error(`${name} must be one of ${allowed.join(', ')}`);
  return raw as T;
}

function isScenarioId(value: string): value is ScenarioId {
  return (SCENARIO_IDS as readonly string[]).includes(value);
}

function drainIds(raw: string | undefined): DrainId[] | undefined {
  if (raw === undefined || raw === '') return undefined;
  return raw.split(',').map((id) => {
    if (!(DRAIN_IDS as readonly string[]).includes(id)) {
      throw new Error(`BENCH_DRAINS: unknown drain ${id} (one of ${DRAIN_IDS.join(', ')})`);
    }
    return id as DrainId;
  });
}

/** The scenarios the flags select, in the order of SCENARIO_IDS. */
function selectScenarios(args: string[]): ScenarioId[] {
  const flags = new Set<string>();
  let only: ScenarioId[] | undefined;
  for (const arg of args) {
    if (arg === '--') continue; // `pnpm bench -- --soak`
    if (arg.startsWith('--only=')) {
      only = arg
        .slice('--only='.length)
        .split(',')
        .map((id) => {
          if (!isScenarioId(id)) throw new Error(`--only: unknown scenario ${id} (one of ${SCENARIO_IDS.join(', ')})`);
          return id;
        });
    } else if (['--soak', '--receivers-only', '--workers-only'].includes(arg)) {
      flags.add(arg);
    } else {
      throw new Error(`unknown argument ${arg} (see the top of bench/src/run.ts)`);
    }
  }
  let selected: ScenarioId[];
  if (only) selected = only;
  else if (flags.has('--receivers-only')) selected = ['receivers'];
  else if (flags.has('--workers-only')) selected = ['workerDrains'];
  else selected = [...DEFAULT_SCENARIOS, ...(flags.has('--soak') ? (['soak'] as const) : [])];
  return SCENARIO_IDS.filter((id) => selected.includes(id));
}

export function parseOptions(args: string[], env: NodeJS.ProcessEnv): BenchOptions {
  return {
    scenarios: selectScenarios(args),
    seconds: positiveInteger(env, 'BENCH_SECONDS', 5),
    rounds: positiveInteger(env, 'BENCH_ROUNDS', 3),
    jobs: positiveInteger(env, 'BENCH_JOBS', 10_000),
    rate: positiveInteger(env, 'BENCH_RATE', 500),
    appendfsync: oneOf<AppendFsync>(env, 'BENCH_APPENDFSYNC', ['always', 'everysec', 'no'], () => 'everysec'),
    // wrk (C, one thread) leaves the CPU to the servers; autocannon spends about as much CPU per
    // request as a bare Express app does, on the same two cores.
    loadGenerator: oneOf<LoadGenerator>(env, 'BENCH_LOADGEN', ['wrk', 'autocannon'], () =>
      spawnSync('wrk', ['--version']).error ? 'autocannon' : 'wrk',
    ),
    drains: drainIds(env.BENCH_DRAINS),
    connections: 50,
  };
}
