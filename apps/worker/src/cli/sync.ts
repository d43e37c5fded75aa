/**
 * The reconciler from the command line, for every API-backed family:
 *
 *   pnpm sync [--family <name>[,<name>…]] [--since <RFC 3339>] [--dry-run]
 *
 * Reads each family (names as in contracts: customer, subscription, invoice, payment, wallet,
 * entitlement, feature; default: every API-backed family ENQUEUE_EVENTS queues and a handler or
 * route takes) by `updated_at` and applies every entity whose state was not applied yet, like a job
 * would (store, tombstone, ordered forward as the family's update event). Progress on stderr, the
 * summary per family as JSON on stdout. `pnpm customers sync` is `pnpm sync --family customer`.
 * Exit codes: 0 done, 1 failed (also when a forward target refused an entity for good), 2 usage or
 * configuration error.
 */
import { parseArgs } from 'node:util';
import { API_FAMILIES } from '@flexprice/contracts';
import { runCli, UsageError } from '@flexprice/runtime';
import { parseFamilies, syncFromCli } from './sync-command.js';

const USAGE = `usage:
  pnpm sync [--family <name>[,<name>…]] [--since <RFC 3339 time>] [--dry-run]
families: ${API_FAMILIES.join(', ')}`;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      family: { type: 'string' },
      since: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help || positionals.length > 0) throw new UsageError(USAGE);
  return syncFromCli({
    families: values.family === undefined ? undefined : parseFamilies(values.family),
    since: values.since,
    dryRun: values['dry-run'],
  });
}

runCli('sync', run);
