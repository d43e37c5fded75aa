import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { fromRoot } from './paths.js';

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
export const log = (message: string): void => {
  process.stderr.write(`[bench] ${message}\n`);
};

/**
 * The Node processes of a run: the built apps and the baselines. Not `runNode` of
 * `@flexprice/testing`, which keeps everything a process prints: under load the apps' logs would
 * cost the bench CPU (on the same two cores) and memory; here stdout is dropped and stderr shown.
 */
export class Processes {
  readonly #children = new Set<ChildProcess>();

  /**
   * Starts `node <script>` (relative to the repository root) with `env` and PATH only, and
   * BENCH_NODE_ARGS (space-separated) before the script when set: `--cpu-prof --cpu-prof-dir=/tmp/prof`
   * profiles every process of the run.
   */
  start(script: string, env: Record<string, string>, { stdout = 'ignore' }: { stdout?: 'ignore' | 'pipe' } = {}) {
    const path = fromRoot(script);
    if (!existsSync(path)) throw new Error(`${script} is missing: run \`pnpm build\` first (pnpm bench does)`);
    const nodeArgs = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
    const child = spawn(process.execPath, [...nodeArgs, path], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['pipe', stdout, 'inherit'],
    });
    this.#children.add(child);
    child.on('exit', () => this.#children.delete(child));
    return child;
  }

  /** SIGTERM, then SIGKILL after 15 s; resolves once it exited. */
  async stop(child: ChildProcess | undefined): Promise<void> {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    try {
      await exited;
    } finally {
      clearTimeout(timer);
    }
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#children].map((child) => this.stop(child)));
  }

  /** The last resort, on `exit`: nothing asynchronous can run any more. */
  killAll(): void {
    for (const child of this.#children) child.kill('SIGKILL');
  }
}

export function pidOf(child: ChildProcess): number {
  if (child.pid === undefined) throw new Error('the process did not start');
  return child.pid;
}

/** Resolves once `url` answers a GET with a status below 500. */
export async function waitHttp(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { method: 'GET' });
      await res.body?.cancel();
      if (res.status < 500) return;
    } catch {}
    await sleep(50);
  }
  throw new Error(`${url} did not answer`);
}

/** CPU time (user + system) a process has used so far, in microseconds (Linux, 100 ticks/s). */
export function cpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** Resident set size of a process, in MiB. */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};
