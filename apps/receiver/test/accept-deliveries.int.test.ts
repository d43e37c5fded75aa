import { createHash } from 'node:crypto';
import { scriptCommand } from '@flexprice/runtime';
import { expectScriptCase, redisTest, type ScriptCase } from '@flexprice/testing';
import { Redis } from 'ioredis';
import { describe, expect } from 'vitest';
import { acceptDeliveriesScript } from '../src/acceptance.js';

// accept-deliveries.lua, case by case, against a real Redis (acceptance.int.test.ts tests the
// batching around it). `@name` is a key of the case's own prefix (`keyspace`).

/** A clock ahead of Redis' (a stepped-back clock, a slower replica promoted): stamps follow it. */
const AHEAD = '03000000000000000';
const after = (n: number) => String(Number(AHEAD) + n).padStart(17, '0');
const natKey = (content: string, previous: string) =>
  `nat-${createHash('sha1').update(`${content}\n${previous}`).digest('hex')}`;
/** A stamp read from Redis' clock now (the µs epoch, 17 digits): within a minute of this machine's. */
const fromRedisTime = () =>
  expect.toSatisfy((stamp: string) => /^\d{17}$/.test(stamp) && Math.abs(Number(stamp) / 1000 - Date.now()) < 60_000);

const clock = { string: AHEAD };
const MARK_TTL = '600';

const cases: ScriptCase[] = [
  {
    name: "not native: a stamp from Redis' clock, the clock moved to it, no mark, the delivery's own key",
    before: {},
    keys: ['@clock', '@clock'],
    args: ['@de:', MARK_TTL, '0', '', 'job-1'],
    reply: [fromRedisTime(), 'new', 'job-1', ''],
    after: { '@clock': { string: fromRedisTime() } },
  },
  {
    name: "the queue's clock ahead of Redis': each delivery of the call gets the next stamp, the clock the last",
    before: { '@clock': clock },
    keys: ['@clock', '@clock', '@clock', '@clock'],
    args: ['@de:', MARK_TTL, '0', '', 'job-1', '0', '', 'job-2', '0', '', 'job-3'],
    reply: [after(1), 'new', 'job-1', '', after(2), 'new', 'job-2', '', after(3), 'new', 'job-3', ''],
    after: { '@clock': { string: after(3) } },
  },
  {
    name: "natively, an entity's first delivery: a chain started from its stamp, and the mark naming it, with its ttl",
    before: { '@clock': clock },
    keys: ['@clock', '@mark:cust_1'],
    args: ['@de:', MARK_TTL, '1', 'X', 'job-1'],
    reply: [after(1), 'new', 'job-1', natKey('X', `start ${after(1)}`)],
    after: {
      '@clock': { string: after(1) },
      '@mark:cust_1': { string: `${after(1)}.job-1 X job-1 ${natKey('X', `start ${after(1)}`)}`, ttl: 600 },
    },
  },
  {
    name: 'natively, other bytes than the latest: a key chained to the latest one, and the mark moved on',
    before: { '@clock': clock, '@mark:cust_1': { string: '01.job-0 W job-0 nat-w', ttl: 100 } },
    keys: ['@clock', '@mark:cust_1'],
    args: ['@de:', MARK_TTL, '1', 'X', 'job-1'],
    reply: [after(1), 'new', 'job-1', natKey('X', 'nat-w')],
    after: {
      '@clock': { string: after(1) },
      '@mark:cust_1': { string: `${after(1)}.job-1 X job-1 ${natKey('X', 'nat-w')}`, ttl: 600 },
    },
  },
  {
    name: "natively, the latest bytes again before their job exists: the latest's key (BullMQ's dedupe keeps one), the mark untouched",
    before: { '@clock': clock, '@mark:cust_1': { string: '01.job-0 X job-0 nat-x', ttl: 100 } },
    keys: ['@clock', '@mark:cust_1'],
    args: ['@de:', MARK_TTL, '1', 'X', 'job-1'],
    reply: [after(1), 'new', 'job-1', 'nat-x'],
    after: { '@clock': { string: after(1) }, '@mark:cust_1': { string: '01.job-0 X job-0 nat-x', ttl: 100 } },
  },
  {
    name: "natively, the latest bytes again once their job exists (its dedupe key): a duplicate of the latest's job",
    before: {
      '@clock': clock,
      '@mark:cust_1': { string: '01.job-0 X job-0 nat-x', ttl: 100 },
      '@de:nat-x': { string: 'job-0' },
    },
    keys: ['@clock', '@mark:cust_1'],
    args: ['@de:', MARK_TTL, '1', 'X', 'job-1'],
    reply: [after(1), 'duplicate', 'job-0', 'nat-x'],
    after: {
      '@clock': { string: after(1) },
      '@mark:cust_1': { string: '01.job-0 X job-0 nat-x', ttl: 100 },
      '@de:nat-x': { string: 'job-0' },
    },
  },
  {
    name: 'natively, two copies in one call: one key for both, the mark naming the first job',
    before: { '@clock': clock },
    keys: ['@clock', '@mark:cust_1', '@mark:cust_1'],
    args: ['@de:', MARK_TTL, '1', 'X', 'job-1', '1', 'X', 'job-2'],
    reply: [
      after(1),
      'new',
      'job-1',
      natKey('X', `start ${after(1)}`),
      after(2),
      'new',
      'job-2',
      natKey('X', `start ${after(1)}`),
    ],
    after: {
      '@clock': { string: after(2) },
      '@mark:cust_1': { string: `${after(1)}.job-1 X job-1 ${natKey('X', `start ${after(1)}`)}`, ttl: 600 },
    },
  },
  {
    name: 'natively, a mark it cannot read (not four fields): a new chain from this stamp',
    before: { '@clock': clock, '@mark:cust_1': { string: 'garbage' } },
    keys: ['@clock', '@mark:cust_1'],
    args: ['@de:', MARK_TTL, '1', 'X', 'job-1'],
    reply: [after(1), 'new', 'job-1', natKey('X', `start ${after(1)}`)],
    after: {
      '@clock': { string: after(1) },
      '@mark:cust_1': { string: `${after(1)}.job-1 X job-1 ${natKey('X', `start ${after(1)}`)}`, ttl: 600 },
    },
  },
  {
    name: 'a mark of the wrong type (a list): its delivery fails with the error, the others of the call do not',
    before: { '@clock': clock, '@mark:bad': { list: ['x'] } },
    keys: ['@clock', '@mark:bad', '@mark:ok'],
    args: ['@de:', MARK_TTL, '1', 'X', 'job-1', '1', 'X', 'job-2'],
    reply: [
      after(1),
      'error',
      expect.stringMatching(/^WRONGTYPE/),
      '',
      after(2),
      'new',
      'job-2',
      natKey('X', `start ${after(2)}`),
    ],
    after: {
      '@clock': { string: after(2) },
      '@mark:bad': { list: ['x'] },
      '@mark:ok': { string: `${after(2)}.job-2 X job-2 ${natKey('X', `start ${after(2)}`)}`, ttl: 600 },
    },
  },
  {
    name: 'a clock of the wrong type (a hash): the whole call fails, nothing written',
    before: { '@clock': { hash: { x: '1' } } },
    keys: ['@clock', '@mark:cust_1'],
    args: ['@de:', MARK_TTL, '1', 'X', 'job-1'],
    error: /WRONGTYPE/,
    after: { '@clock': { hash: { x: '1' } } },
  },
];

const test = redisTest.extend('connection', async ({ redis }, { onCleanup }) => {
  const connection = new Redis(redis.url);
  onCleanup(() => connection.disconnect());
  return connection;
});

describe('accept-deliveries.lua', () => {
  test.for(cases)('$name', async (row, { connection }) => {
    await expectScriptCase(connection, scriptCommand(connection, acceptDeliveriesScript), row);
  });
});
