import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname } from 'node:path';
import type { BenchOptions } from './options.js';
import { fromRoot, RESULTS_FILE } from './paths.js';
import type { Results, ScenarioId } from './scenarios/index.js';

export interface Machine {
  cpus: string;
  memoryGiB: number;
  node: string;
  redis: string;
  date: string;
}

/** Ours against the baselines, within this run; NaN (null in the JSON) when a side did not run. */
export interface Ratios {
  receiverVsBareExpress: number;
  receiverVsNaive: number;
  p99VsBareExpress: number;
  minimalVsBareExpress: number;
  receiverVsMinimal: number;
  workerPerReplicaVsNaive: number;
  /** Throughput with REDIS_WAIT_REPLICAS=1 over that with 0, one replica attached (goal ≥ 0.8). */
  waitOneVsNoWait: number;
  /** CPU of receiver + worker + Redis per webhook, ours over the naive pair (median of the rounds' ratios; goal ≤ 1.25). */
  wholeSystemVsNaive: number;
  /** Redis CPU per webhook, ours over the naive pair (median of the rounds' ratios; goal ≤ 1.0). */
  redisVsNaive: number;
  /** The busiest cluster master's CPU per webhook, QUEUE_SHARDS=6 over one queue per family (below 1: more capacity). */
  busiestMasterSharded: number;
}

/** bench/results/latest.json. */
export interface Report {
  machine: Machine;
  settings: {
    scenarios: ScenarioId[];
    loadGenerator: BenchOptions['loadGenerator'];
    seconds: number;
    rounds: number;
    connections: number;
    jobs: number;
    rate: number;
    appendfsync: BenchOptions['appendfsync'];
  };
  results: Results;
  ratios: Ratios;
}

export function machine(redisVersion: string): Machine {
  return {
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    redis: redisVersion,
    date: new Date().toISOString(),
  };
}

function ratios(results: Results): Ratios {
  const receivers = results.receivers;
  const rps = (value: number | undefined) => value ?? Number.NaN;
  const bare = receivers?.bareExpress;
  const ours = receivers?.oursSigned;
  const naive = receivers?.naiveReceiver;
  const minimal = receivers?.minimalReceiver;
  const workers = results.workerDrains;
  return {
    receiverVsBareExpress: rps(ours?.rps) / rps(bare?.rps),
    receiverVsNaive: rps(ours?.rps) / rps(naive?.rps),
    p99VsBareExpress: rps(ours?.p99) / rps(bare?.p99),
    minimalVsBareExpress: rps(minimal?.rps) / rps(bare?.rps),
    receiverVsMinimal: rps(ours?.rps) / rps(minimal?.rps),
    workerPerReplicaVsNaive: rps(workers?.oursStore1?.perReplica) / rps(workers?.naiveWorker?.perReplica),
    waitOneVsNoWait: rps(results.replicaWait?.waitOne.rps) / rps(results.replicaWait?.noWait.rps),
    wholeSystemVsNaive: results.systemCost?.wholeRatio ?? Number.NaN,
    redisVsNaive: results.systemCost?.redisRatio ?? Number.NaN,
    busiestMasterSharded: results.clusterSpread?.busiestRatio ?? Number.NaN,
  };
}

export function buildReport(options: BenchOptions, results: Results, redisVersion: string): Report {
  return {
    machine: machine(redisVersion),
    settings: {
      scenarios: options.scenarios,
      loadGenerator: options.loadGenerator,
      seconds: options.seconds,
      rounds: options.rounds,
      connections: options.connections,
      jobs: options.jobs,
      rate: options.rate,
      appendfsync: options.appendfsync,
    },
    results,
    ratios: ratios(results),
  };
}

/** Writes bench/results/latest.json (NaN becomes null); returns its path. */
export function writeReport(report: Report): string {
  const path = fromRoot(RESULTS_FILE);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
  return path;
}

const fmt = (n: number | null | undefined, digits = 0): string =>
  typeof n === 'number' ? n.toFixed(digits) : String(n);

/** The tables of the scenarios that ran, then the ratios that could be computed. */
export function formatReport(report: Report): string {
  const { machine, settings, results, ratios } = report;
  const lines: string[] = [];
  lines.push(
    `machine: ${machine.cpus}, ${machine.memoryGiB} GiB, Node ${machine.node}, Redis ${machine.redis} (appendfsync ${settings.appendfsync})`,
  );
  lines.push('');
  if (results.receivers) {
    lines.push(
      `receivers (${settings.loadGenerator}, ${settings.connections} connections, median of ${settings.rounds} × ${settings.seconds} s, distinct customer.created; per accepted webhook: Redis commands, CPU µs of the app and of Redis)`,
    );
    lines.push(
      `  ${''.padEnd(74)} ${'req/s'.padStart(6)}  ${'p50 ms'.padStart(6)}  ${'p99 ms'.padStart(6)}  ${'non-2xx'.padStart(7)}  ${'cmds'.padStart(5)}  ${'app µs'.padStart(6)}  ${'Redis µs'.padStart(8)}`,
    );
    for (const r of Object.values(results.receivers)) {
      lines.push(
        `  ${r.label.padEnd(74)} ${fmt(r.rps).padStart(6)}  ${fmt(r.p50, 1).padStart(6)}  ${fmt(r.p99, 1).padStart(6)}  ${fmt(r.non2xx).padStart(7)}  ${fmt(r.redisCommandsPerAccepted, 1).padStart(5)}  ${fmt(r.appCpuMicrosPerAccepted).padStart(6)}  ${fmt(r.redisCpuMicrosPerAccepted).padStart(8)}   rounds: ${r.rounds.join(', ')}`,
      );
    }
    lines.push('');
  }
  if (results.redisRoundTrips) {
    lines.push('Redis round trips per accepted webhook (counted by a proxy at the client side)');
    for (const r of Object.values(results.redisRoundTrips)) {
      lines.push(
        `  ${r.label.padEnd(74)} ${fmt(r.roundTripsPerAccepted, 2).padStart(6)} round trips, ${fmt(r.bytesPerAccepted).padStart(5)} bytes`,
      );
    }
    lines.push('');
  }
  if (results.replicaWait) {
    lines.push(
      `replica-confirmed 202s (one replica on the same machine; median of ${settings.rounds} × ${settings.seconds} s)`,
    );
    for (const r of [results.replicaWait.noWait, results.replicaWait.waitOne]) {
      lines.push(
        `  ${r.label.padEnd(74)} ${fmt(r.rps).padStart(6)}  ${fmt(r.p50, 1).padStart(6)}  ${fmt(r.p99, 1).padStart(6)}  ${fmt(r.non2xx).padStart(7)}  ${''.padStart(5)}  ${fmt(r.appCpuMicrosPerAccepted).padStart(6)}  ${fmt(r.redisCpuMicrosPerAccepted).padStart(8)}   rounds: ${r.rounds.join(', ')}`,
      );
    }
    lines.push('');
  }
  if (results.workerDrains) {
    lines.push(
      `${`workers (drain of ${settings.jobs} jobs)`.padEnd(76)} jobs/s  per replica  failed  API calls/job  skipped stale  worker µs/job  Redis µs/job  cmds/job`,
    );
    for (const r of Object.values(results.workerDrains)) {
      lines.push(
        `  ${r.label.padEnd(74)} ${fmt(r.jobsPerSecond).padStart(6)}  ${fmt(r.perReplica).padStart(11)}  ${fmt(r.failed).padStart(6)}  ${(r.apiCallsPerJob === undefined ? '' : fmt(r.apiCallsPerJob, 3)).padStart(13)}  ${(r.skippedStale === undefined ? '' : fmt(r.skippedStale)).padStart(13)}  ${fmt(r.workerCpuMicrosPerJob).padStart(13)}  ${fmt(r.redisCpuMicrosPerJob).padStart(12)}  ${fmt(r.redisCommandsPerJob, 1).padStart(8)}`,
      );
    }
    lines.push('');
  }
  const c = results.systemCost;
  if (c) {
    lines.push(
      `system cost per webhook (${c.rate} req/s for ${c.seconds} s, Svix-signed customer.created, drained as it comes; CPU µs; median of ${c.rounds.length} interleaved rounds)`,
    );
    lines.push(
      `  ${''.padEnd(40)} ${'receiver'.padStart(8)}  ${'worker'.padStart(6)}  ${'Redis'.padStart(6)}  ${'whole'.padStart(6)}  ${'Redis cmds'.padStart(10)}`,
    );
    for (const [label, p] of [
      ['ours', c.ours],
      ['naive Express + BullMQ pair', c.naive],
    ] as const) {
      lines.push(
        `  ${label.padEnd(40)} ${fmt(p.receiverMicros).padStart(8)}  ${fmt(p.workerMicros).padStart(6)}  ${fmt(p.redisMicros).padStart(6)}  ${fmt(p.wholeMicros).padStart(6)}  ${fmt(p.redisCommands, 1).padStart(10)}`,
      );
    }
    lines.push(
      `  ours / naive, per round: whole ${c.rounds.map((r) => fmt(r.wholeRatio, 2)).join(', ')}; Redis ${c.rounds.map((r) => fmt(r.redisRatio, 2)).join(', ')}`,
    );
    lines.push('');
  }
  const k = results.clusterSpread;
  if (k) {
    lines.push(
      `a 3-master Redis Cluster (${k.rate} req/s for ${k.seconds} s, Svix-signed customer.created, drained as it comes; medians of ${k.rounds} interleaved rounds; per webhook)`,
    );
    lines.push(
      `  ${''.padEnd(24)} ${'Redis cmds'.padStart(10)}  ${'Redis µs'.padStart(8)}  ${'busiest master µs'.padStart(17)}  ${'apps µs'.padStart(7)}  command share per master`,
    );
    for (const l of k.layouts) {
      lines.push(
        `  ${(l.shards === 1 ? 'one queue per family' : `QUEUE_SHARDS=${l.shards}`).padEnd(24)} ${fmt(l.redisCommands, 1).padStart(10)}  ${fmt(l.redisMicros).padStart(8)}  ${fmt(l.busiestMasterMicros).padStart(17)}  ${fmt(l.appMicros).padStart(7)}  ${l.masters.map((m) => fmt(m.commandShare, 2)).join(' / ')}`,
      );
    }
    lines.push('');
  }
  const e = results.endToEnd;
  if (e) {
    lines.push(
      `end to end at ${e.offeredRps} req/s offered: HTTP p50 ${fmt(e.httpP50ms, 1)} ms, p99 ${fmt(e.httpP99ms, 1)} ms; received → processed p50 ${fmt(e.toProcessedP50ms)} ms, p99 ${fmt(e.toProcessedP99ms)} ms (${e.processed} jobs)`,
    );
  }
  const s = results.soak;
  if (s) {
    const { before, after, peak } = s;
    lines.push(
      `soak 5 min at ${s.offeredRps} req/s (medians of the first and the last minute, peak): receiver RSS ${fmt(before.receiverRssMiB)} → ${fmt(after.receiverRssMiB)} MiB (${fmt(peak.receiverRssMiB)}), worker RSS ${fmt(before.workerRssMiB)} → ${fmt(after.workerRssMiB)} MiB (${fmt(peak.workerRssMiB)}), Redis used_memory ${fmt(before.redisUsedMemoryMiB, 1)} → ${fmt(after.redisUsedMemoryMiB, 1)} MiB (${fmt(peak.redisUsedMemoryMiB, 1)})`,
    );
  }
  if (e || s) lines.push('');
  const parts: string[] = [];
  if (results.receivers) {
    parts.push(
      `receiver ${fmt(ratios.receiverVsBareExpress, 2)}× bare Express, ${fmt(ratios.receiverVsNaive, 2)}× naive, ${fmt(ratios.receiverVsMinimal, 2)}× the minimal receiver (itself ${fmt(ratios.minimalVsBareExpress, 2)}× bare Express); p99 ${fmt(ratios.p99VsBareExpress, 2)}× bare Express's`,
    );
  }
  if (results.replicaWait) parts.push(`REDIS_WAIT_REPLICAS=1 ${fmt(ratios.waitOneVsNoWait, 2)}× the throughput of 0`);
  if (results.systemCost) {
    parts.push(
      `whole system ${fmt(ratios.wholeSystemVsNaive, 2)}× the naive pair's CPU per webhook (goal ≤ 1.25), Redis ${fmt(ratios.redisVsNaive, 2)}× (goal ≤ 1.0)`,
    );
  }
  if (results.clusterSpread) {
    parts.push(`busiest cluster master ${fmt(ratios.busiestMasterSharded, 2)}× with QUEUE_SHARDS=6`);
  }
  // A drain subset (BENCH_DRAINS) may leave out either side.
  if (Number.isFinite(ratios.workerPerReplicaVsNaive))
    parts.push(`worker ${fmt(ratios.workerPerReplicaVsNaive, 2)}× naive per replica`);
  if (parts.length > 0) lines.push(`ratios: ${parts.join('; ')}`);
  return `${lines.join('\n')}\n`;
}
