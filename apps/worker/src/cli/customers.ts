/**
 * Reads the customer store the worker writes, and heals it from Flexprice's API.
 *
 *   pnpm customers get <flexprice id>                                   (a tombstone too)
 *   pnpm customers find --external-id <id> [--environment <env id>] [--include-deleted]
 *   pnpm customers sync [--since <RFC 3339>] [--dry-run]
 *
 * `find` lists the live customers with that external id (newest state first); with
 * `--include-deleted`, the deleted ones as well. Prints JSON.
 * `sync` reads every customer changed in Flexprice since the last sync (or `--since`) and applies
 * it like a job would (store, index, tombstone, forward); progress on stderr, the summary as JSON.
 * Exit codes: 0 found / done, 1 not found or failed (a sync: also when the forward target refused
 * a customer for good), 2 usage or configuration error.
 */
import { parseArgs } from 'node:util';
import { timestampNanos } from '@flexprice/contracts';
import {
  createLogger,
  createRedis,
  createReplicaWait,
  reportRedisErrors,
  runCli,
  UsageError,
} from '@flexprice/runtime';
import { loadConfig } from '../config.js';
import { createCustomerStore } from '../customer-store.js';
import { syncCustomers } from '../customer-sync.js';
import { createFlexpriceApi } from '../flexprice-api.js';
import { createForwardTargets } from '../forward-targets.js';

const USAGE = `usage:
  pnpm customers get <flexprice id>
  pnpm customers find --external-id <id> [--environment <environment id>] [--include-deleted]
  pnpm customers sync [--since <RFC 3339 time>] [--dry-run]`;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'external-id': { type: 'string' },
      environment: { type: 'string' },
      'include-deleted': { type: 'boolean', default: false },
      since: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
    },
  });
  const [command, id] = positionals;
  if (command === 'sync') return sync(values.since, values['dry-run']);
  if (command !== 'get' && command !== 'find') throw new UsageError(USAGE);
  if (command === 'get' && id === undefined) throw new UsageError(`get takes a Flexprice customer id\n${USAGE}`);
  const externalId = values['external-id'];
  if (command === 'find' && externalId === undefined) throw new UsageError(`find takes --external-id\n${USAGE}`);

  const config = loadConfig();
  const redis = createRedis(config.redis, 'oneshot');
  reportRedisErrors(redis, createLogger('customers', { level: 'warn', destination: 2 }), 'store');
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

async function sync(since: string | undefined, dryRun: boolean): Promise<number> {
  if (since !== undefined && timestampNanos(since) === undefined) {
    throw new UsageError(`--since takes an RFC 3339 time such as 2026-11-01T00:00:00Z (got "${since}")`);
  }
  const config = loadConfig();
  if (!config.api) {
    throw new UsageError(
      'sync reads customers from Flexprice: set FLEXPRICE_API_KEY (and FLEXPRICE_API_URL when self-hosted)',
    );
  }
  const redis = createRedis(config.redis, 'oneshot');
  reportRedisErrors(redis, createLogger('customers', { level: 'warn', destination: 2 }), 'store');
  const log = createLogger('customers', {
    level: config.logLevel === 'info' ? 'warn' : config.logLevel,
    destination: 2,
  });
  try {
    const store = createCustomerStore(redis, config.store);
    const summary = await syncCustomers({
      api: createFlexpriceApi(config.api),
      applier: {
        store,
        forward: createForwardTargets(config.routes).customer,
        // As the worker: a state is forwarded once REDIS_WAIT_REPLICAS replicas hold it.
        replicas: config.redisWait.replicas > 0 ? createReplicaWait(redis, config.redisWait) : undefined,
      },
      redis,
      prefix: config.store.prefix,
      log,
      since,
      dryRun,
      onPage: (p) =>
        process.stderr.write(
          `${p.status}: ${p.seen} seen, ${p.applied} ${dryRun ? 'would apply' : 'applied'}, ${p.unchanged} unchanged, ${p.forwarded} forwarded (up to ${p.watermark})\n`,
        ),
    });
    process.stdout.write(`${JSON.stringify({ ...summary, dryRun }, null, 2)}\n`);
    if (summary.refused === 0) return 0;
    process.stderr.write(
      `${summary.refused} customer(s) were stored but refused for good by the forward target (logged above by id): ` +
        'once it takes them, run `pnpm customers sync --since <their updated_at>` to forward them again\n',
    );
    return 1;
  } finally {
    redis.disconnect();
  }
}

runCli('customers', run);
