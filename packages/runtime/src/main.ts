import { ConfigError } from './env.js';

/**
 * Starts a process's `main`, and turns a failed start into one clear line on stderr and exit 1:
 * the configuration problems as they are, anything else with its stack.
 */
export function runMain(name: string, main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
    } else {
      const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
      process.stderr.write(`${name} failed to start: ${detail}\n`);
    }
    process.exit(1);
  });
}

/** A command line that cannot be run as typed: exit code 2, like a configuration error. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * Runs a CLI command and exits with its code: the command's own (0 done, 1 not found), 2 for a
 * usage or configuration error, 1 for anything else, each with one clear line on stderr.
 */
export function runCli(name: string, run: (argv: string[]) => Promise<number>): void {
  run(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      if (error instanceof UsageError || error instanceof ConfigError) {
        process.stderr.write(`${error.message}\n`);
        process.exit(2);
      }
      process.stderr.write(`${name}: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
