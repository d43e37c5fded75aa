import { describeConfig, EVENT_TYPES } from '@flexprice/contracts';
import { CONFIG_RECORD_TTL_MS, configRecordsKey, createConfigRecorder, createRedis } from '@flexprice/runtime';
import { redisTest } from '@flexprice/testing';
import { pino } from 'pino';
import { describe, expect } from 'vitest';
import { startTestWorker } from './support.js';

// The configuration records in Redis, in process: what a worker compares with, and how records of
// receivers that stopped, crashed or cannot be read leave the comparison.

const INVOICE = EVENT_TYPES.filter((type) => type.startsWith('invoice.'));

const test = redisTest.extend('setup', async ({ redis }, { onCleanup }) => {
  const worker = await startTestWorker(redis.url);
  const client = createRedis({ mode: 'standalone', url: redis.url }, 'consumer');
  onCleanup(async () => {
    await worker.close();
    client.disconnect();
  });
  /** A receiver's recorder under the worker's prefix, queueing `enqueues`. */
  const receiver = (instance: string, enqueues: readonly string[]) =>
    createConfigRecorder(client, {
      prefix: worker.prefix,
      role: 'receiver',
      instance,
      record: describeConfig({
        role: 'receiver',
        instance,
        version: 'test',
        queue: { prefix: worker.prefix },
        enqueues,
        routes: [],
      }),
      logger: pino({ level: 'silent' }),
    });
  return { worker, client, receiver, receiversKey: configRecordsKey(worker.prefix, 'receiver') };
});

describe("a worker's comparison with the live receivers", () => {
  test('follows the receivers: a mismatch while one queues what the worker cannot process, none once it stopped', async ({
    setup,
  }) => {
    const { worker, receiver } = setup;
    const invoices = receiver('recv-invoices', ['customer.created', ...INVOICE]);
    await invoices.start();
    await worker.agreement.refresh();
    expect(await worker.problems()).toEqual([
      expect.stringMatching(/^config_mismatch: 1 of 1 live receivers \(recv-invoices\)/),
    ]);
    expect(await worker.isReady()).toBe(true); // Redis and the workers are fine: only the problem says no.

    await invoices.close();
    await worker.agreement.refresh();
    expect(await worker.problems()).toEqual([]);
    expect(worker.agreement.receivers()).toBe(0);
  });

  test('ignores, and removes, the record of a receiver that stopped writing or that it cannot read', async ({
    setup,
  }) => {
    const { worker, client, receiver, receiversKey } = setup;
    const current = receiver('recv-current', ['customer.created']);
    await current.start();
    const [seconds] = await client.time();
    const stale = describeConfig({
      role: 'receiver',
      instance: 'recv-crashed',
      version: 'test',
      queue: { prefix: worker.prefix },
      enqueues: INVOICE,
      routes: [],
    });
    await client.hset(receiversKey, {
      'recv-crashed': JSON.stringify({ ...stale, at: Number(seconds) * 1000 - CONFIG_RECORD_TTL_MS - 1 }),
      'recv-garbled': '{not json',
    });
    await worker.agreement.refresh();
    expect(await worker.problems()).toEqual([]);
    expect(worker.agreement.receivers()).toBe(1);
    expect(Object.keys(await client.hgetall(receiversKey))).toEqual(['recv-current']);
    await current.close();
  });
});
