// pnpm bench: the built receiver and worker against a bare Express app, a naive receiver, a minimal
// receiver and a naive worker, side by side in one run, on a Redis of its own. Prints tables and
// writes bench/results/latest.json. These machines are noisy: compare the ratios of one run, not runs.
// What each scenario measures and how to read the tables: bench/README.md.
//
// Flags (after `pnpm bench`):
//   (none)              receivers, redisRoundTrips, workerDrains, endToEnd (about 3 minutes)
//   --soak              adds soak: 90 s of warm-up, then 5 minutes at BENCH_RATE
//   --receivers-only    the receivers only
//   --workers-only      the worker drains only
//   --only=<ids>        these scenarios only, comma-separated: receivers, redisRoundTrips,
//                       workerDrains, endToEnd, soak (e.g. --only=endToEnd or --only=receivers,soak)
//
// Environment:
//   BENCH_SECONDS (5)             measured seconds per receiver round
//   BENCH_ROUNDS (3)              interleaved rounds per receiver, the median reported
//   BENCH_JOBS (10000)            jobs per worker drain
//   BENCH_RATE (500)              offered req/s of the end-to-end and soak runs
//   BENCH_APPENDFSYNC (everysec)  Redis' AOF fsync policy: always, everysec or no
//   BENCH_LOADGEN (wrk when installed, else autocannon)  the load generator of the throughput runs;
//                                 fixed-rate runs (end to end, soak) always use autocannon
//   BENCH_DRAINS (all)            the worker drains to run, by id, comma-separated
//   BENCH_NODE_ARGS (none)        node flags for every process started (--cpu-prof --cpu-prof-dir=…)
//
// Needs `redis-server` on PATH and the apps built (`pnpm bench` builds them, then compiles this
// directory with tsc to bench/dist and runs bench/dist/run.js).
import { type BenchContext, createContext } from './context.js';
import { parseOptions } from './options.js';
import { log } from './processes.js';
import { buildReport, formatReport, writeReport } from './report.js';
import { noResults, type Results, SCENARIOS, type ScenarioId } from './scenarios/index.js';

const options = (() => {
  try {
    return parseOptions(process.argv.slice(2), process.env);
  } catch (error) {
    log(error instanceof Error ? error.message : String(error));
    process.exit(2);
  }
})();
let context: BenchContext | undefined;
let closing: Promise<void> | undefined;

/** Stops every process the run started and Redis, once, whatever happened. */
function close(): Promise<void> {
  closing ??= (async () => {
    if (!context) return;
    await context.processes.stopAll();
    await context.redis.dispose();
  })();
  return closing;
}

// Ctrl-C or a kill: clean up before leaving; `exit` is the last resort for anything left.
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping`);
    void close().finally(() => process.exit(code));
  });
}
process.on('exit', () => context?.processes.killAll());

async function runScenario<Id extends ScenarioId>(id: Id, ctx: BenchContext, results: Results) {
  const scenario = SCENARIOS[id];
  log(`scenario ${scenario.id}: ${scenario.title}`);
  results[id] = await scenario.run(ctx);
}

try {
  context = await createContext(options);
  const results = noResults();
  for (const id of options.scenarios) await runScenario(id, context, results);
  const report = buildReport(options, results, context.redis.version);
  const path = writeReport(report);
  process.stdout.write(formatReport(report));
  log(`wrote ${path}`);
} catch (error) {
  process.exitCode = 1;
  log(error instanceof Error ? (error.stack ?? error.message) : String(error));
} finally {
  await close();
}
process.exit();
