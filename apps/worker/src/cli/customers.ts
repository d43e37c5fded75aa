/**
 * Reads the customer store the worker writes.
 *
 *   pnpm customers get <flexprice id>
 *   pnpm customers find --external-id <id> [--environment <env id>]
 *
 * Prints JSON. Exit codes: 0 found, 1 not found, 2 usage or configuration error.
 */
import { parseArgs } from 'node:util';
import { createRedis, runCli, UsageError } from '@flexprice/runtime';
import { loadConfig } from '../config.js';
import { createCustomerStore } from '../customer-store.js';

const USAGE = `usage:
  pnpm customers get <flexprice id>
  pnpm customers find --external-id <id> [--environment <environment id>]`;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { 'external-id': { type: 'string' }, environment: { type: 'string' } },
  });
  const [command, id] = positionals;
  if (command !== 'get' && command !== 'find') throw new UsageError(USAGE);
  if (command === 'get' && id === undefined) throw new UsageError(`get takes a Flexprice customer id\n${USAGE}`);
  if (command === 'find' && values['external-id'] === undefined)
    throw new UsageError(`find takes --external-id\n${USAGE}`);

  const config = loadConfig();
  const redis = createRedis(config.redis, 'oneshot');
  redis.on('error', () => {});
  try {
    const store = createCustomerStore(redis, config.store);
    const found =
      command === 'get' && id !== undefined
        ? [await store.get(id)].filter((customer) => customer !== undefined)
        : await store.findByExternalId(values['external-id'] ?? '', values.environment);
    if (found.length === 0) {
      process.stderr.write('no such customer in the store\n');
      return 1;
    }
    process.stdout.write(`${JSON.stringify(command === 'get' ? found[0] : found, null, 2)}\n`);
    return 0;
  } finally {
    redis.disconnect();
  }
}

runCli('customers', run);
