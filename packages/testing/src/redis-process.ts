import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/**
 * How every test helper runs a `redis-server` (a data node, a cluster node or a Sentinel): spawned,
 * raced against its own exit until it serves, its output kept for the error message, and killed
 * when the test process exits, so that no Redis outlives a run whatever the test did.
 */
export interface RedisProcessOptions {
  /** What the error message calls it, e.g. `redis-server on port 6400`, `sentinel 2 on port 6401`. */
  label: string;
  binary: string;
  args: string[];
  cwd?: string;
  /** Resolves once it serves (or rejects, when it does not in time): `waitForRedis` on its URL. */
  ready: () => Promise<void>;
  /** Its `logfile`: the last lines go into the error message too (it logs there, not to stdout). */
  logFile?: string;
}

export interface RedisProcess {
  readonly pid: number | undefined;
  /** False once it exited, whoever stopped it. */
  readonly running: boolean;
  /** Sends a signal that need not end it (`SIGSTOP`, `SIGCONT`). */
  signal(name: NodeJS.Signals): void;
  /**
   * Sends `signal` (default `SIGKILL`: no chance to flush anything) and resolves once it exited.
   * A no-op when it already had.
   */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
}

/** Bytes of its output kept: config errors are a line or two, printed before the log file opens. */
const OUTPUT_KEPT = 2000;

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Last resort if the test process exits without stopping what it started (a crash, a forgotten
 * `afterAll`). Synchronous, as 'exit' listeners must be; one listener for every process.
 */
function killOnExit(child: ChildProcess): void {
  live.add(child);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const running of live) running.kill('SIGKILL');
  });
}

async function tail(file: string | undefined, lines = 15): Promise<string> {
  if (file === undefined) return '';
  try {
    return (await readFile(file, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * Spawns `binary args` and resolves once `ready` does. If the process exits (or cannot start)
 * first, or `ready` rejects, it is killed and the error says why, with the end of its stderr,
 * stdout and log file: a Redis that refuses its config says so there and nowhere else.
 */
export async function startRedisProcess(options: RedisProcessOptions): Promise<RedisProcess> {
  const { label, binary, args, cwd, ready, logFile } = options;
  const child = spawn(binary, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-OUTPUT_KEPT);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let running = true;
  // Resolves (never rejects) with why it is gone. A spawn that failed (no such binary) emits
  // 'error' with no pid and maybe no 'exit'; any other 'error' (a signal not delivered) leaves it
  // running.
  const gone = new Promise<string>((resolve) => {
    const end = (why: string) => {
      running = false;
      live.delete(child);
      resolve(why);
    };
    child.on('error', (error) => {
      if (child.pid === undefined) end(`could not start ${binary}: ${error.message}`);
    });
    child.once('exit', (code, signal) => end(`exited with ${signal ?? `code ${code}`}`));
  });
  killOnExit(child);

  const proc: RedisProcess = {
    get pid() {
      return child.pid;
    },
    get running() {
      return running;
    },
    signal(name) {
      if (running) child.kill(name);
    },
    async stop(signal = 'SIGKILL') {
      if (!running) return;
      child.kill(signal);
      await gone;
    },
  };

  const up = ready().then(
    () => undefined,
    (error: unknown) => `not serving: ${error instanceof Error ? error.message : String(error)}`,
  );
  const failure = await Promise.race([up, gone]);
  if (failure === undefined) return proc;
  await proc.stop();
  const said = [output.trim(), await tail(logFile)].filter(Boolean).join('\n');
  throw new Error(`${label} did not come up (${failure})${said ? `:\n${said}` : ''}`);
}
