import { configMismatches, type RecordedConfig, recordedConfigSchema } from '@flexprice/contracts';
import { createConfigRecorder, type RedisClient } from '@flexprice/runtime';
import type { Logger } from 'pino';

/**
 * Whether this worker can process what the live receivers queue. The worker records its own
 * configuration (`@flexprice/runtime`'s config records) and, at each refresh, compares the live
 * receivers' with its own: an event type some receiver queues that this worker has no handler for
 * is a problem for `/readyz` (`config_mismatch: …`) and `flexprice_config_mismatch`, never a
 * refusal to run, as a rolling deploy passes through such states. The comparison runs on the
 * recorder's interval, never on a probe: `/readyz` and the gauges read its last result.
 */
export function watchConfigAgreement(deps: {
  redis: RedisClient;
  prefix: string;
  /** This worker's record (`describeConfig`). */
  self: Omit<RecordedConfig, 'at'>;
  /** The shard counts whose queues this worker drains now (they grow as counts are recorded). */
  drains?: () => readonly number[];
  /** Called with the shard counts the live receivers queue with, at each refresh. */
  onReceiverShards?: (counts: number[]) => void;
  logger: Pick<Logger, 'warn' | 'info'>;
}) {
  const { self, logger } = deps;
  const settings = () => ({ handles: self.handles ?? [], consumes: self.consumes ?? [], drains: deps.drains?.() });
  let problems: string[] = [];
  let receivers = 0;
  const recorder = createConfigRecorder(deps.redis, {
    prefix: deps.prefix,
    role: 'worker',
    instance: self.instance,
    record: self,
    logger,
    peers: {
      role: 'receiver',
      onRead(records) {
        // A record this version cannot read says nothing either way.
        const live = records.flatMap((record) => {
          const parsed = recordedConfigSchema.safeParse(record);
          return parsed.success ? [parsed.data] : [];
        });
        receivers = live.length;
        deps.onReceiverShards?.([...new Set(live.map((receiver) => receiver.queue.shards ?? 1))]);
        const next = configMismatches(settings(), live);
        if (next.join() !== problems.join()) {
          if (next.length > 0)
            logger.warn({ problems: next }, 'configuration mismatch with the live receivers: not ready');
          else logger.info('this worker can process everything the live receivers queue again');
        }
        problems = next;
      },
    },
  });
  return {
    /** Records this worker and compares, now (not awaited by the wiring) and on every interval. */
    start: () => recorder.start(),
    /** Records and compares again now (tests). */
    refresh: () => recorder.refresh(),
    /** `config_mismatch: …` for each rule the live receivers' configurations and this worker's break. */
    problems: (): string[] => problems.map((problem) => `config_mismatch: ${problem}`),
    /** Live receivers recorded under this QUEUE_PREFIX at the last refresh. */
    receivers: (): number => receivers,
    close: (timeoutMs?: number) => recorder.close(timeoutMs),
  };
}

export type ConfigAgreement = ReturnType<typeof watchConfigAgreement>;
