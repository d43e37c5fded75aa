/**
 * Reads the customer store the worker writes.
 *
 *   pnpm customers get <flexprice id>                                   (a tombstone too)
 *   pnpm customers find --external-id <id> [--environment <env id>] [--include-deleted]
 *
 * `find` lists the live customers with that external id (newest state first); with
 * `--include-deleted`, the deleted ones as well. Prints JSON.
 * Exit codes: 0 found, 1 not found, 2 usage or configuration error.
 */
import { parseArgs } from 'node:util';
import { createRedis, runCli, UsageError } from '@flexprice/runtime';
import { loadConfig } from '../config.js';
import { createCustomerStore } from '../customer-store.js';

const USAGE = `usage:
  pnpm customers get <flexprice id>
  pnpm customers find --external-id <id> [--environment <environment id>] [--include-deleted]`;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'external-id': { type: 'string' },
      environment: { type: 'string' },
      'include-deleted': { type: 'boolean', default: false },
    },
  });
  const [command, id] = positionals;
  if (command !== 'get' && command !== 'find') throw new UsageError(USAGE);
  if (command === 'get' && id === undefined) throw new UsageError(`get takes a Flexprice customer id\n${USAGE}`);
  const externalId = values['external-id'];
  if (command === 'find' && externalId === undefined) throw new UsageError(`find takes --external-id\n${USAGE}`);

  const config = loadConfig();
  const redis = createRedis(config.redis, 'oneshot');
  redis.on('error', () => {});
  try {
    const store = createCustomerStore(redis, config.store);
    if (command === 'get') {
      const customer = await store.get(id ?? '');
      if (customer === undefined) {
        process.stderr.write(`no customer ${id} in the store\n`);
        return 1;
      }
      process.stdout.write(`${JSON.stringify(customer, null, 2)}\n`);
      return 0;
    }
    const includeDeleted = values['include-deleted'];
    const found = await store.findByExternalId(externalId ?? '', { environmentId: values.environment, includeDeleted });
    if (found.length === 0) {
      const scope = values.environment === undefined ? '' : ` in environment ${values.environment}`;
      const hint = includeDeleted ? '' : ' (--include-deleted also lists deleted ones)';
      process.stderr.write(`no live customer with external id ${externalId}${scope}${hint}\n`);
      return 1;
    }
    process.stdout.write(`${JSON.stringify(found, null, 2)}\n`);
    return 0;
  } finally {
    redis.disconnect();
  }
}

runCli('customers', run);
