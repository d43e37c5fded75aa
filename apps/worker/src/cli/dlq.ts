/**
 * Dead-letter operations on the failed sets of the flexprice.* queues.
 *
 *   pnpm dlq list  [--queue flexprice.customer] [--json]
 *   pnpm dlq retry <job id> | --all [--queue q] [--force]
 *   pnpm dlq purge [--older-than 7d] [--queue q]
 *
 * Exit codes: 0 done, 1 nothing matched (unknown job id), 2 usage or configuration error.
 */
import { parseArgs } from 'node:util';
import {
  allQueueNames,
  apiFamilyOf,
  BUILT_IN_HANDLERS,
  ENTITY_CATALOG,
  isEventType,
  layoutsKey,
  QUEUE_NAMES,
  syncQueueName,
} from '@flexprice/contracts';
import {
  createLogger,
  createRedis,
  layoutsToSee,
  parseDuration,
  redactUrlsIn,
  reportRedisErrors,
  runCli,
  UsageError,
} from '@flexprice/runtime';
import { type Job, Queue } from 'bullmq';
import { loadConfig } from '../config.js';

const USAGE = `usage:
  pnpm dlq list  [--queue <name>] [--json]
  pnpm dlq retry <job id> | --all [--queue <name>] [--force]
  pnpm dlq purge [--older-than <age, e.g. 30m, 12h, 7d>] [--queue <name>]`;

const PAGE = 500;

export function parseAge(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new UsageError(`--older-than takes an age such as 30m, 12h or 7d (got "${value}")`);
  return ms;
}

async function* failedJobs(queue: Queue): AsyncGenerator<Job> {
  // Retrying or purging shrinks the set while we walk it: walk a snapshot of the ids.
  const total = await queue.getFailedCount();
  const jobs: Job[] = [];
  for (let start = 0; start < total; start += PAGE) jobs.push(...(await queue.getFailed(start, start + PAGE - 1)));
  yield* jobs;
}

function describe(queue: string, job: Job) {
  const failedAt = job.finishedOn ? new Date(job.finishedOn).toISOString() : '';
  // Redacted again: a job that failed before URLs were redacted still holds the URL as it was.
  const lastError = redactUrlsIn((job.failedReason ?? '').split('\n', 1)[0] ?? '');
  return { queue, id: job.id ?? '', eventType: job.name, attempts: job.attemptsMade, failedAt, lastError };
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      queue: { type: 'string' },
      all: { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      'older-than': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined) throw new UsageError(USAGE);

  // A family's queue (`flexprice.customer`) names all its shards; a shard's name, that one.
  const families: readonly string[] = QUEUE_NAMES;
  const ofQueue = (name: string) => (wanted: string) =>
    wanted === name || (families.includes(name) && wanted.startsWith(`${name}.{`));
  if (
    values.queue !== undefined &&
    !families.includes(values.queue) &&
    !/^flexprice\.[a-z_]+\.\{[\w-]+\}$/.test(values.queue)
  ) {
    throw new UsageError(`unknown queue "${values.queue}"; queues are ${families.join(', ')} (or one of their shards)`);
  }

  const config = loadConfig();
  const connection = createRedis(config.redis, 'oneshot');
  const log = createLogger('dlq', { level: 'warn', destination: 2 });
  reportRedisErrors(connection, log, 'queues');
  // Every queue of every shard count the deployment ran with (QUEUE_SHARDS, and those recorded).
  const all = allQueueNames(
    await layoutsToSee(connection, layoutsKey(config.queue.prefix), config.store.layout).catch((err: Error) => {
      connection.disconnect();
      throw err;
    }),
    syncQueueName(config.store.layout.shards, config.store.layout.cluster),
  );
  const names = values.queue === undefined ? all : all.filter(ofQueue(values.queue));
  if (names.length === 0) {
    connection.disconnect();
    throw new UsageError(`no queue "${values.queue}" here; queues are ${all.join(', ')}`);
  }
  const queues = names.map((name) => {
    const queue = new Queue(name, { connection, prefix: config.queue.prefix });
    reportRedisErrors(queue, log, name);
    return { name, queue };
  });
  try {
    switch (command) {
      case 'list': {
        const rows = [];
        for (const { name, queue } of queues) {
          for await (const job of failedJobs(queue)) rows.push(describe(name, job));
        }
        if (values.json) {
          process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        } else if (rows.length === 0) {
          process.stdout.write('no failed jobs\n');
        } else {
          for (const row of rows) {
            process.stdout.write(
              `${row.queue}  ${row.id}  ${row.eventType}  attempts=${row.attempts}  failed=${row.failedAt}  ${row.lastError}\n`,
            );
          }
          process.stdout.write(`${rows.length} failed job(s)\n`);
        }
        return 0;
      }
      case 'retry': {
        const id = rest[0];
        if ((id === undefined) === !values.all) throw new UsageError(`retry takes a job id or --all\n${USAGE}`);
        let retried = 0;
        let tooOld = 0;
        const markAgeMs = config.entityMarkTtlSeconds * 1000;
        for (const { name, queue } of queues) {
          const jobs = id === undefined ? failedJobs(queue) : [await queue.getJob(id)].filter((j) => j !== undefined);
          for await (const job of jobs) {
            if (id !== undefined && !(await job.isFailed())) {
              throw new UsageError(`job ${id} in ${name} is not in the failed set`);
            }
            // A routed event is ordered by its entity's mark, which lapses ENTITY_MARK_TTL_SECONDS after
            // the entity's last event: a job older than that could go out after a newer state. (With
            // FLEXPRICE_API_KEY an API-backed one reads the entity's current state instead.)
            const ordered =
              isEventType(job.name) &&
              !BUILT_IN_HANDLERS.includes(job.name) &&
              ENTITY_CATALOG[job.name].id !== null &&
              !(config.api && apiFamilyOf(job.name) !== undefined);
            if (!values.force && ordered && Date.now() - job.timestamp > markAgeMs) {
              tooOld += 1;
              process.stderr.write(
                `not retried ${name} ${job.id} (${job.name}): queued before ENTITY_MARK_TTL_SECONDS, its entity's order ` +
                  'mark may be gone and it would be forwarded unchecked (--force to retry it anyway)\n',
              );
              continue;
            }
            // A replay gets the full retry budget again.
            await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
            retried += 1;
            process.stdout.write(`retried ${name} ${job.id} (${job.name})\n`);
          }
        }
        if (id !== undefined && retried === 0) {
          if (tooOld === 0) process.stderr.write(`no job ${id} in ${names.join(', ')}\n`);
          return 1;
        }
        if (id === undefined) {
          process.stdout.write(
            `${retried} job(s) moved back to waiting${tooOld > 0 ? `, ${tooOld} too old (--force)` : ''}\n`,
          );
        }
        return tooOld > 0 ? 1 : 0;
      }
      case 'purge': {
        const grace = values['older-than'] === undefined ? 0 : parseAge(values['older-than']);
        let purged = 0;
        for (const { queue } of queues) {
          let batch: string[];
          do {
            batch = await queue.clean(grace, 1000, 'failed');
            purged += batch.length;
          } while (batch.length > 0);
        }
        process.stdout.write(`${purged} failed job(s) purged\n`);
        return 0;
      }
      default:
        throw new UsageError(`unknown command "${command}"\n${USAGE}`);
    }
  } finally {
    await Promise.all(queues.map(({ queue }) => queue.close()));
    connection.disconnect();
  }
}

runCli('dlq', run);
