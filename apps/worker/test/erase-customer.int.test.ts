import { apiStateVersion, erasureVersion, provisionalDeletionVersion } from '@flexprice/contracts';
import { scriptCommand } from '@flexprice/runtime';
import { expectScriptCase, redisTest, type ScriptCase } from '@flexprice/testing';
import { Redis } from 'ioredis';
import { describe } from 'vitest';
import { eraseCustomerScript } from '../src/ordering/customer-store.js';

// erase-customer.lua, case by case, against a real Redis: live, deleted and unknown customers, the
// indexes of older versions, TTLs, a record of the wrong type.

const NOW = '1787220000000';
const ERASED = erasureVersion(Number(NOW));
const LIVE = apiStateVersion({ deleted: false, updatedAt: '2026-08-20T10:05:00Z' }) ?? '';
const GONE = provisionalDeletionVersion(LIVE);
const ARGS = ['cust_1', NOW, ERASED];

/** A live customer's record as the store writes it. */
const live = {
  id: 'cust_1',
  environment_id: 'env_1',
  external_id: 'b',
  customer: '{"name":"B"}',
  index_key: '@index:b',
  version: LIVE,
  applied_at: '5',
  last_event_type: 'customer.updated',
  last_key: 'key-1',
};
/** What erasure leaves of it: what ordering needs, nothing personal. */
const erased = {
  id: 'cust_1',
  environment_id: 'env_1',
  version: LIVE,
  applied_at: '5',
  last_event_type: 'customer.deleted',
  last_key: 'key-1',
  deleted: '1',
  deleted_at: NOW,
};

const cases: ScriptCase[] = [
  {
    name: 'a live customer: a tombstone without personal data, out of its index, kept for good',
    before: { '@record': { hash: live, ttl: 600 }, '@index:b': { set: ['cust_1', 'cust_2'] } },
    keys: ['@record'],
    args: ARGS,
    reply: 1,
    after: { '@record': { hash: erased }, '@index:b': { set: ['cust_2'] } },
  },
  {
    name: 'the older indexes: out of the live and the deleted sets; the string index deleted when it names this customer',
    before: {
      '@record': { hash: { ...live, index_key: '@index:b' } },
      '@index:b': { set: ['cust_1'] },
      '@deleted:b': { set: ['cust_1', 'cust_9'] },
      '@legacy:b': { string: 'cust_1' },
    },
    keys: ['@record', '@index:b', '@deleted:b', '@legacy:b'],
    args: ARGS,
    reply: 1,
    after: { '@record': { hash: erased }, '@deleted:b': { set: ['cust_9'] } },
  },
  {
    name: 'the string index naming another customer: left',
    before: { '@record': { hash: live }, '@legacy:b': { string: 'cust_9' } },
    keys: ['@record', '@index:b', '@deleted:b', '@legacy:b'],
    args: ARGS,
    reply: 1,
    after: { '@record': { hash: erased }, '@legacy:b': { string: 'cust_9' } },
  },
  {
    name: 'a customer never stored: a tombstone of the erasure version, so that a job still queued cannot store it',
    before: {},
    keys: ['@record'],
    args: ARGS,
    reply: 0,
    after: {
      '@record': {
        hash: {
          id: 'cust_1',
          last_event_type: 'customer.deleted',
          deleted: '1',
          deleted_at: NOW,
          version: ERASED,
          applied_at: NOW,
        },
      },
    },
  },
  {
    name: 'a provisional tombstone: made final (no longer provisional), its deletion time and version kept',
    before: {
      '@record': {
        hash: { id: 'cust_1', version: GONE, deleted: '1', deleted_at: '7', provisional: '1', last_event_type: 'x' },
      },
    },
    keys: ['@record'],
    args: ARGS,
    reply: 1,
    after: {
      '@record': {
        hash: { id: 'cust_1', version: GONE, deleted: '1', deleted_at: '7', last_event_type: 'customer.deleted' },
      },
    },
  },
  {
    name: 'a tombstone of an older version, with its data: stripped of it',
    before: {
      '@record': {
        hash: { ...live, index_key: '@index:b', deleted: '1', deleted_at: '7', last_event_type: 'customer.deleted' },
      },
      '@index:b': { set: ['cust_1'] },
    },
    keys: ['@record'],
    args: ARGS,
    reply: 1,
    after: { '@record': { hash: { ...erased, deleted_at: '7' } } },
  },
  {
    name: 'a record of the wrong type (a list): the call fails, nothing written',
    before: { '@record': { list: ['x'] } },
    keys: ['@record'],
    args: ARGS,
    error: /WRONGTYPE/,
    after: { '@record': { list: ['x'] } },
  },
];

const test = redisTest.extend('connection', async ({ redis }, { onCleanup }) => {
  const connection = new Redis(redis.url);
  onCleanup(() => connection.disconnect());
  return connection;
});

describe('erase-customer.lua', () => {
  test.for(cases)('$name', async (row, { connection }) => {
    await expectScriptCase(connection, scriptCommand(connection, eraseCustomerScript), row);
  });
});
