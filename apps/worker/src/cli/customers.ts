/**
 * Reads the customer store the worker writes, and heals it from Flexprice's API.
 *
 *   pnpm customers get <flexprice id>                                   (a tombstone too)
 *   pnpm customers find --external-id <id> [--environment <env id>]
 *   pnpm customers sync [--since <RFC 3339>] [--dry-run]
 *   pnpm customers erase <flexprice id> | --tombstones
 *
 * `find` lists the live customers with that external id (newest state first). Prints JSON.
 * `erase` drops a customer's personal data on request: the record becomes a final tombstone, out
 * of every index, and the customer's completed and failed jobs (their bodies) are removed.
 * `--tombstones` strips the tombstones written by versions that kept a deleted customer's data.
 * `sync` reads every customer changed in Flexprice since the last sync (or `--since`) and applies
 * it like a job would (store, index, tombstone, forward); progress on stderr, the summary as JSON.
 * Exit codes: 0 found / done, 1 not found or failed (a sync: also when the forward target refused
 * a customer for good), 2 usage or configuration error.
 */
import { parseArgs } from 'node:util';
import { familyQueueNames, layoutsKey } from '@flexprice/contracts';
import {
  createLogger,
  createRedis,
  layoutsToSee,
  refuseOtherClusterLayout,
  reportRedisErrors,
  runCli,
  UsageError,
} from '@flexprice/runtime';
import { Queue } from 'bullmq';
import { type Config, loadConfig } from '../config.js';

/**
 * On a Redis Cluster the store's keys follow QUEUE_SHARDS: a shell without the deployment's count
 * would read (and erase in) keys nobody uses. Refused as the apps refuse it, without recording.
 */
function refuseOtherLayout(config: Config): Promise<void> {
  return refuseOtherClusterLayout(config.redis, {
    prefix: config.queue.prefix,
    shards: config.queue.shards,
    keyOf: layoutsKey,
    record: false,
  });
}

import { createCustomerStore } from '../ordering/customer-store.js';
import { syncFromCli } from './sync-command.js';

const USAGE = `usage:
  pnpm customers get <flexprice id>
  pnpm customers find --external-id <id> [--environment <environment id>]
  pnpm customers sync [--since <RFC 3339 time>] [--dry-run]
  pnpm customers erase <flexprice id> | --tombstones`;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'external-id': { type: 'string' },
      environment: { type: 'string' },
      tombstones: { type: 'boolean', default: false },
      since: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
    },
  });
  const [command, id] = positionals;
  if (command === 'sync') return sync(values.since, values['dry-run']);
  if (command === 'erase') {
    if ((id === undefined) === !values.tombstones)
      throw new UsageError(`erase takes a Flexprice customer id, or --tombstones\n${USAGE}`);
    return erase(id);
  }
  if (command !== 'get' && command !== 'find') throw new UsageError(USAGE);
  if (command === 'get' && id === undefined) throw new UsageError(`get takes a Flexprice customer id\n${USAGE}`);
  const externalId = values['external-id'];
  if (command === 'find' && externalId === undefined) throw new UsageError(`find takes --external-id\n${USAGE}`);

  const config = loadConfig();
  await refuseOtherLayout(config);
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
    const found = await store.findByExternalId(externalId ?? '', { environmentId: values.environment });
    if (found.length === 0) {
      const scope = values.environment === undefined ? '' : ` in environment ${values.environment}`;
      process.stderr.write(
        `no live customer with external id ${externalId}${scope} (deleted ones keep no external id: get <flexprice id>)\n`,
      );
      return 1;
    }
    process.stdout.write(`${JSON.stringify(found, null, 2)}\n`);
    return 0;
  } finally {
    redis.disconnect();
  }
}

/**
 * Erasure on request. The record first (nothing stores the customer's data after it), then the
 * jobs that carry it: completed and failed ones are removed; waiting, delayed or running ones are
 * left to run (they end `skipped_tombstone`, and their bodies go with the completed-job retention).
 */
/** `id` unset: `--tombstones`. */
async function erase(id: string | undefined): Promise<number> {
  const config = loadConfig();
  await refuseOtherLayout(config);
  const redis = createRedis(config.redis, 'oneshot');
  reportRedisErrors(redis, createLogger('customers', { level: 'warn', destination: 2 }), 'store');
  const queues: Queue[] = [];
  try {
    // The customer queue of every shard count the deployment ran with (once each: layouts share
    // queues, shard 0 of 2 being shard 0 of 3).
    const names = new Set<string>();
    for (const shards of await layoutsToSee(redis, layoutsKey(config.queue.prefix), config.store.layout))
      for (const name of familyQueueNames('customer', shards)) names.add(name);
    for (const name of names) queues.push(new Queue(name, { connection: redis, prefix: config.queue.prefix }));
    const store = createCustomerStore(redis, config.store);
    if (id === undefined) {
      const stripped = await store.stripTombstones();
      process.stdout.write(`${JSON.stringify({ tombstonesStripped: stripped })}\n`);
      return 0;
    }
    const existed = await store.erase(id);
    let removed = 0;
    let pending = 0;
    for (const queue of queues) {
      for (const state of ['completed', 'failed', 'waiting', 'delayed', 'active', 'prioritized'] as const) {
        for (let start = 0; ; start += 500) {
          const jobs = await queue.getJobs([state], start, start + 499, true);
          for (const job of jobs) {
            const customerId = (job.data as { event?: { customer?: { id?: unknown } } } | undefined)?.event?.customer
              ?.id;
            if (customerId !== id) continue;
            if (state === 'completed' || state === 'failed') {
              await job.remove();
              removed += 1;
            } else pending += 1;
          }
          if (jobs.length < 500) break;
        }
      }
    }
    process.stdout.write(
      `${JSON.stringify({ id, recordExisted: existed, jobsRemoved: removed, jobsPending: pending })}\n`,
    );
    return 0;
  } finally {
    await Promise.all(queues.map((queue) => queue.close().catch(() => undefined)));
    redis.disconnect();
  }
}

/** `pnpm sync --family customer`, with the summary it always printed. */
function sync(since: string | undefined, dryRun: boolean): Promise<number> {
  return syncFromCli({ families: ['customer'], since, dryRun, flat: true });
}

runCli('customers', run);
