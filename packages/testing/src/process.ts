import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';

export interface RunningProcess {
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output: () => string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

/**
 * Runs a built entry point the way users do (`node dist/main.js`), configured by its environment
 * only: nothing of the test runner's environment leaks in but PATH.
 */
export function runNode(script: string, env: Record<string, string>, args: string[] = []): RunningProcess {
  if (!existsSync(script)) throw new Error(`${script} is missing: run \`pnpm build\` first (pnpm test does)`);
  const child = spawn(process.execPath, [script, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: 'pipe' });
  let output = '';
  const append = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { child, output: () => output, exited };
}
