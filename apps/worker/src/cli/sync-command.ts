/** What `pnpm sync` and `pnpm customers sync` run (`sync.ts` is the command). */
import { API_FAMILIES, type ApiFamily, layoutsKey, timestampNanos } from '@flexprice/contracts';
import {
  createLogger,
  createRedis,
  createReplicaWait,
  refuseOtherClusterLayout,
  reportRedisErrors,
  UsageError,
} from '@flexprice/runtime';
import { loadConfig } from '../config.js';
import { createCustomerKeeper } from '../entities/keepers.js';
import { defaultSyncFamilies, type FamilyRun, runSync } from '../entities/reconciler.js';
import type { SyncSummary } from '../entities/sync.js';
import { createCustomerStore } from '../ordering/customer-store.js';
import { createEntityMarks } from '../ordering/entity-marks.js';
import { createFlexpriceApi } from '../outbound/flexprice-api.js';
import { createForwardTargets } from '../outbound/forward-targets.js';

/** `--family a,b`: known API-backed families, or a usage error naming the unknown ones. */
export function parseFamilies(value: string): ApiFamily[] {
  const names = value
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name.length > 0);
  const unknown = names.filter((name) => !(API_FAMILIES as string[]).includes(name));
  if (names.length === 0 || unknown.length > 0) {
    throw new UsageError(
      `--family takes API-backed families (${API_FAMILIES.join(', ')}); unknown: ${unknown.join(', ') || '(none given)'}`,
    );
  }
  return [...new Set(names)] as ApiFamily[];
}

/**
 * Runs the reconciler as configured (the worker's environment) and prints what it did. `flat`:
 * one family's summary at the top level (what `pnpm customers sync` always printed).
 */
export async function syncFromCli(options: {
  families: readonly ApiFamily[] | undefined;
  since: string | undefined;
  dryRun: boolean;
  flat?: boolean;
}): Promise<number> {
  const { since, dryRun } = options;
  if (since !== undefined && timestampNanos(since) === undefined) {
    throw new UsageError(`--since takes an RFC 3339 time such as 2026-11-01T00:00:00Z (got "${since}")`);
  }
  const config = loadConfig();
  if (!config.api) {
    throw new UsageError('sync reads Flexprice: set FLEXPRICE_API_KEY (and FLEXPRICE_API_URL when self-hosted)');
  }
  // On a cluster the store's keys follow QUEUE_SHARDS: refused as the apps refuse it, unrecorded.
  await refuseOtherClusterLayout(config.redis, {
    prefix: config.queue.prefix,
    shards: config.queue.shards,
    keyOf: layoutsKey,
    record: false,
  });
  const redis = createRedis(config.redis, 'oneshot');
  reportRedisErrors(redis, createLogger('sync', { level: 'warn', destination: 2 }), 'store');
  const log = createLogger('sync', { level: config.logLevel === 'info' ? 'warn' : config.logLevel, destination: 2 });
  try {
    const targets = createForwardTargets(config.routes, config.forward);
    const ordering = {
      // As the worker: a state is forwarded once REDIS_WAIT_REPLICAS replicas hold it.
      replicas: config.redisWait.replicas > 0 ? createReplicaWait(redis, config.redisWait) : undefined,
    };
    const families = options.families ?? defaultSyncFamilies(config.enqueueEvents, targets.routes);
    const results = await runSync({
      families,
      deps: {
        api: createFlexpriceApi(config.api),
        customers: createCustomerKeeper({
          store: createCustomerStore(redis, config.store),
          forward: targets.customer,
          ...ordering,
        }),
        marks: createEntityMarks(redis, {
          prefix: config.store.prefix,
          deliveryPinTtlSeconds: config.store.deliveryPinTtlSeconds,
          markTtlSeconds: config.entityMarkTtlSeconds,
          layout: config.store.layout,
        }),
        routes: targets.routes,
        ...ordering,
      },
      redis,
      prefix: config.store.prefix,
      log,
      since,
      dryRun,
      onPage: (p) =>
        process.stderr.write(
          `${p.family} ${p.status}: ${p.seen} seen, ${p.applied} ${dryRun ? 'would apply' : 'applied'}, ${p.unchanged} unchanged, ${p.forwarded} forwarded (up to ${p.watermark})\n`,
        ),
    });
    const [only] = families;
    const flat = options.flat && only !== undefined ? results[only] : undefined;
    process.stdout.write(`${JSON.stringify(flat ? { ...flat, dryRun } : { families: results, dryRun }, null, 2)}\n`);
    for (const [family, run] of Object.entries(results) as [ApiFamily, FamilyRun][]) {
      if (run.skipped !== undefined) process.stderr.write(`${family}: skipped: ${run.skipped}\n`);
    }
    const refused = Object.entries(results).filter(([, run]) => run && (run as SyncSummary).refused > 0);
    if (refused.length === 0) return 0;
    for (const [family, run] of refused) {
      process.stderr.write(
        `${(run as SyncSummary).refused} ${family}(s) were kept but refused for good by the forward target (logged above by id): ` +
          `once it takes them, run \`pnpm sync --family ${family} --since <their updated_at>\` to forward them again\n`,
      );
    }
    return 1;
  } finally {
    redis.disconnect();
  }
}
