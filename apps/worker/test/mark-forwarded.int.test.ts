import { microsFromIso, stateVersion } from '@flexprice/contracts';
import { scriptCommand } from '@flexprice/runtime';
import { expectScriptCase, redisTest, type ScriptCase } from '@flexprice/testing';
import { Redis } from 'ioredis';
import { describe } from 'vitest';
import { markForwardedScript } from '../src/ordering/versioned-store.js';

// mark-forwarded.lua, case by case, against a real Redis: acknowledged or pending, per clock, the
// lock let go only when it is still the caller's, the record's TTL, keys of the wrong type.

const version = (n: number) =>
  stateVersion({
    deleted: false,
    payloadTime: `2026-08-20T10:0${n}:00Z`,
    acceptedMicros: microsFromIso(`2026-08-20T10:0${n}:00Z`),
    tieBreak: `job-${n}`,
  });

/** The script's ARGV: version, lock token, clock suffix, acknowledged or pending, record TTL. */
const args = (
  n: number,
  o: { token?: string; clock?: '' | '_p' | '_r' | '_a'; kind?: 'acknowledged' | 'pending'; ttl?: string } = {},
) => [version(n), o.token ?? 'tok-1', o.clock ?? '', o.kind ?? 'acknowledged', o.ttl ?? '0'];

const KEYS = ['@record', '@lock'];
const LOCK = { '@lock': { string: 'tok-1', ttl: 30 } };

const cases: ScriptCase[] = [
  {
    name: 'acknowledged: the version remembered, the lock let go',
    before: { '@record': { hash: { version: version(1) } }, ...LOCK },
    keys: KEYS,
    args: args(1),
    reply: 1,
    after: { '@record': { hash: { version: version(1), forwarded_version: version(1) } } },
  },
  {
    name: 'acknowledged, older than the version remembered (a slow answer): the newer kept, the lock let go',
    before: { '@record': { hash: { version: version(2), forwarded_version: version(2) } }, ...LOCK },
    keys: KEYS,
    args: args(1),
    reply: 1,
    after: { '@record': { hash: { version: version(2), forwarded_version: version(2) } } },
  },
  {
    name: "acknowledged after the lock lapsed and another forward took it: remembered, the other's lock left",
    before: { '@record': { hash: { version: version(1) } }, '@lock': { string: 'tok-2', ttl: 30 } },
    keys: KEYS,
    args: args(1),
    reply: 1,
    after: {
      '@record': { hash: { version: version(1), forwarded_version: version(1) } },
      '@lock': { string: 'tok-2', ttl: 30 },
    },
  },
  {
    name: "acknowledged on a clock: that clock's field only",
    before: { '@record': { hash: { version_p: version(1), forwarded_version_r: version(3) } }, ...LOCK },
    keys: KEYS,
    args: args(1, { clock: '_p' }),
    reply: 1,
    after: {
      '@record': { hash: { version_p: version(1), forwarded_version_r: version(3), forwarded_version_p: version(1) } },
    },
  },
  {
    name: 'pending (the forward timed out): remembered as one that may have reached the target, the lock kept',
    before: { '@record': { hash: { version_p: version(1) } }, ...LOCK },
    keys: KEYS,
    args: args(1, { clock: '_p', kind: 'pending' }),
    reply: 1,
    after: { '@record': { hash: { version_p: version(1), pending_version_p: version(1) } }, ...LOCK },
  },
  {
    name: 'pending, older than the one remembered: the newer kept',
    before: { '@record': { hash: { pending_version_p: version(2) } }, ...LOCK },
    keys: KEYS,
    args: args(1, { clock: '_p', kind: 'pending' }),
    reply: 1,
    after: { '@record': { hash: { pending_version_p: version(2) } }, ...LOCK },
  },
  {
    name: 'a record TTL: the record expires with it again (what was just written must not outlive it)',
    before: { '@record': { hash: { version_r: version(1) }, ttl: 5 }, ...LOCK },
    keys: KEYS,
    args: args(1, { clock: '_r', ttl: '600' }),
    reply: 1,
    after: { '@record': { hash: { version_r: version(1), forwarded_version_r: version(1) }, ttl: 600 } },
  },
  {
    name: 'a record expired since it was applied: the field written expires with the TTL',
    before: { ...LOCK },
    keys: KEYS,
    args: args(1, { clock: '_r', ttl: '600' }),
    reply: 1,
    after: { '@record': { hash: { forwarded_version_r: version(1) }, ttl: 600 } },
  },
  {
    name: 'a tombstone: remembered, and still kept for good (no TTL)',
    before: { '@record': { hash: { version_r: version(1), deleted: '1' } }, ...LOCK },
    keys: KEYS,
    args: args(1, { clock: '_r', ttl: '600' }),
    reply: 1,
    after: { '@record': { hash: { version_r: version(1), deleted: '1', forwarded_version_r: version(1) } } },
  },
  {
    name: 'a record of the wrong type (a list): the call fails, nothing written, the lock kept',
    before: { '@record': { list: ['x'] }, ...LOCK },
    keys: KEYS,
    args: args(1),
    error: /WRONGTYPE/,
    after: { '@record': { list: ['x'] }, ...LOCK },
  },
  {
    name: 'a lock of the wrong type (a hash): the call fails after the version was remembered',
    before: { '@record': { hash: { version: version(1) } }, '@lock': { hash: { x: '1' } } },
    keys: KEYS,
    args: args(1),
    error: /WRONGTYPE/,
    after: {
      '@record': { hash: { version: version(1), forwarded_version: version(1) } },
      '@lock': { hash: { x: '1' } },
    },
  },
];

const test = redisTest.extend('connection', async ({ redis }, { onCleanup }) => {
  const connection = new Redis(redis.url);
  onCleanup(() => connection.disconnect());
  return connection;
});

describe('mark-forwarded.lua', () => {
  test.for(cases)('$name', async (row, { connection }) => {
    await expectScriptCase(connection, scriptCommand(connection, markForwardedScript), row);
  });
});
