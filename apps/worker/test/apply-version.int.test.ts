import {
  apiStateVersion,
  microsFromIso,
  provisionalDeletionVersion,
  REVIVED_TIE_BREAK,
  stateVersion,
} from '@flexprice/contracts';
import { scriptCommand } from '@flexprice/runtime';
import { expectScriptCase, redisTest, type ScriptCase } from '@flexprice/testing';
import { Redis } from 'ioredis';
import { describe } from 'vitest';
import { applyVersionScript } from '../src/ordering/versioned-store.js';

// apply-version.lua, case by case, against a real Redis: versions of each clock, ties, tombstones,
// provisional deletions and revivals, delivery pins, the forward lock, TTLs, keys of the wrong type.
// (worker.int.test.ts, api.int.test.ts and routes.int.test.ts test the stores around it.)

/** Minute n of a morning: what orders the versions below. */
const at = (n: number) => `2026-08-20T10:0${n}:00Z`;
/** A webhook's state of time n (its payload time, accepted then), `job` its tie-break. */
const hook = (n: number, job = `job-${n}`, deleted = false) =>
  stateVersion({ deleted, payloadTime: at(n), acceptedMicros: microsFromIso(at(n)), tieBreak: job });
/** A webhook's state of time n accepted at time m (a retry sent later, a backlog). */
const sent = (n: number, m: number) =>
  stateVersion({ deleted: false, payloadTime: at(n), acceptedMicros: microsFromIso(at(m)), tieBreak: `job-${m}` });
/** An event without a payload time: versioned by when it was accepted (the receipt clock). */
const receipt = (n: number, deleted = false) =>
  stateVersion({ deleted, payloadTime: undefined, acceptedMicros: microsFromIso(at(n)), tieBreak: `job-${n}` });
/** The state of time n read from Flexprice's API. */
const api = (n: number) => apiStateVersion({ deleted: false, updatedAt: at(n) }) ?? '';
/** The provisional deletion after the API state of time n (a confirmed 404). */
const gone = (n: number) => provisionalDeletionVersion(api(n));
/** That deletion taken over by a live API state of its very time. */
const revived = (n: number) => gone(n).replace(/gone\.api$/, REVIVED_TIE_BREAK);

const NOW = '1787220000000';

/** The script's ARGV, with the defaults of a customer state applied without a forward. */
const args = (o: {
  version: string;
  key?: string;
  deletion?: '0' | '1' | 'p';
  token?: string;
  pinTtl?: string;
  ordering?: 'state' | 'event' | 'announce';
  recordTtl?: string;
  clock?: '' | '_p' | '_r' | '_a';
  fields?: string[];
}) => [
  o.version,
  o.key ?? 'key-1',
  NOW,
  o.deletion ?? '0',
  o.token ?? '',
  o.token ? '30000' : '0',
  o.pinTtl ?? '0',
  o.ordering ?? 'state',
  o.recordTtl ?? '0',
  'cust_1',
  o.clock ?? '',
  ...(o.fields ?? []),
];

const KEYS = ['@record', '@lock', '@pin'];
const INDEXED = [...KEYS, '@index:b'];
const LOCKED = { '@lock': { string: 'tok-1', ttl: 30 } };
const tombstone = (version: string, more: Record<string, string> = {}) => ({
  hash: { version, last_key: 'key-1', deleted: '1', deleted_at: '5', ...more },
});

const states: ScriptCase[] = [
  {
    name: 'a first state: stored with its fields and into its index, no TTL, no lock asked for',
    before: {},
    keys: INDEXED,
    args: args({ version: hook(1), fields: ['id', 'cust_1', 'external_id', 'b'] }),
    reply: ['applied', 'none', hook(1)],
    after: {
      '@record': {
        hash: { last_key: 'key-1', version: hook(1), id: 'cust_1', external_id: 'b', index_key: '@index:b' },
      },
      '@index:b': { set: ['cust_1'] },
    },
  },
  {
    name: 'a newer state with another external id: the record moves from the old index to the new one',
    before: {
      '@record': { hash: { version: hook(1), last_key: 'key-1', external_id: 'a', index_key: '@index:a' } },
      '@index:a': { set: ['cust_1', 'cust_2'] },
    },
    keys: INDEXED,
    args: args({ version: hook(2), key: 'key-2', fields: ['external_id', 'b'] }),
    reply: ['applied', 'none', hook(2)],
    after: {
      '@record': { hash: { version: hook(2), last_key: 'key-2', external_id: 'b', index_key: '@index:b' } },
      '@index:a': { set: ['cust_2'] },
      '@index:b': { set: ['cust_1'] },
    },
  },
  {
    name: 'an older state: stale, nothing written',
    before: { '@record': { hash: { version: hook(2), last_key: 'key-2' } } },
    keys: KEYS,
    args: args({ version: hook(1), fields: ['external_id', 'x'] }),
    reply: ['skipped_stale', 'none', hook(1)],
    after: { '@record': { hash: { version: hook(2), last_key: 'key-2' } } },
  },
  {
    name: "a tie: the delivery's own version again (a retry) is current",
    before: { '@record': { hash: { version: hook(1), last_key: 'key-1' } } },
    keys: KEYS,
    args: args({ version: hook(1), key: 'key-1' }),
    reply: ['current', 'none', hook(1)],
    after: { '@record': { hash: { version: hook(1), last_key: 'key-1' } } },
  },
  {
    name: 'a tie: the same version from another delivery (an API state read twice) is unchanged',
    before: { '@record': { hash: { version: api(1), last_key: 'key-1' } } },
    keys: KEYS,
    args: args({ version: api(1), key: 'key-2' }),
    reply: ['unchanged', 'none', api(1)],
    after: { '@record': { hash: { version: api(1), last_key: 'key-1' } } },
  },
  {
    name: "ties of two webhook states of one time: the later accepted, or the tie-break's order, wins",
    before: { '@record': { hash: { version: hook(1, 'job-a'), last_key: 'key-1' } } },
    keys: KEYS,
    args: args({ version: hook(1, 'job-b'), key: 'key-2' }),
    reply: ['applied', 'none', hook(1, 'job-b')],
    after: { '@record': { hash: { version: hook(1, 'job-b'), last_key: 'key-2' } } },
  },
  {
    name: "the api clock: an API state supersedes a webhook's state, even one of a later time",
    before: { '@record': { hash: { version: hook(2), last_key: 'key-2' } } },
    keys: KEYS,
    args: args({ version: api(1), key: 'key-3' }),
    reply: ['applied', 'none', api(1)],
    after: { '@record': { hash: { version: api(1), last_key: 'key-3' } } },
  },
  {
    name: 'the api clock: a webhook state of a time before the stored API state is stale',
    before: { '@record': { hash: { version: api(2), last_key: 'key-2' } } },
    keys: KEYS,
    args: args({ version: hook(1) }),
    reply: ['skipped_stale', 'none', hook(1)],
    after: { '@record': { hash: { version: api(2), last_key: 'key-2' } } },
  },
  {
    name: 'the api clock: a webhook state of a time after the stored API state is applied',
    before: { '@record': { hash: { version: api(1), last_key: 'key-1' } } },
    keys: KEYS,
    args: args({ version: hook(2), key: 'key-2' }),
    reply: ['applied', 'none', hook(2)],
    after: { '@record': { hash: { version: hook(2), last_key: 'key-2' } } },
  },
  {
    name: 'a final deletion: a tombstone without personal data, out of its index, kept for good',
    before: {
      '@record': {
        hash: {
          version: hook(1),
          last_key: 'key-1',
          external_id: 'b',
          customer: '{"name":"B"}',
          index_key: '@index:b',
        },
        ttl: 600,
      },
      '@index:b': { set: ['cust_1'] },
    },
    keys: INDEXED,
    args: args({
      version: hook(2, 'job-2', true),
      key: 'key-2',
      deletion: '1',
      fields: ['last_event_type', 'customer.deleted'],
    }),
    reply: ['applied', 'none', hook(2, 'job-2', true)],
    after: {
      '@record': {
        hash: {
          version: hook(2, 'job-2', true),
          last_key: 'key-2',
          last_event_type: 'customer.deleted',
          deleted: '1',
          deleted_at: NOW,
        },
      },
    },
  },
  {
    name: 'a final deletion: out of the index its state names, even one the record did not name',
    before: {
      '@record': { hash: { version: hook(1), last_key: 'key-1' } },
      '@index:b': { set: ['cust_1', 'cust_2'] },
    },
    keys: INDEXED,
    args: args({ version: hook(2, 'job-2', true), key: 'key-2', deletion: '1' }),
    reply: ['applied', 'none', hook(2, 'job-2', true)],
    after: {
      '@record': { hash: { version: hook(2, 'job-2', true), last_key: 'key-2', deleted: '1', deleted_at: NOW } },
      '@index:b': { set: ['cust_2'] },
    },
  },
  {
    name: 'a tombstone: a later live state is skipped',
    before: { '@record': tombstone(hook(1, 'job-1', true)) },
    keys: KEYS,
    args: args({ version: hook(2), key: 'key-2' }),
    reply: ['skipped_tombstone', 'none', hook(2)],
    after: { '@record': tombstone(hook(1, 'job-1', true)) },
  },
  {
    name: 'a tombstone: a live API state is skipped too (no revival of a final deletion)',
    before: { '@record': tombstone(hook(1, 'job-1', true)) },
    keys: KEYS,
    args: args({ version: api(2), key: 'key-2' }),
    reply: ['skipped_tombstone', 'none', api(2)],
    after: { '@record': tombstone(hook(1, 'job-1', true)) },
  },
  {
    name: 'a tombstone: a second deletion is skipped',
    before: { '@record': tombstone(hook(1, 'job-1', true)) },
    keys: KEYS,
    args: args({ version: hook(2, 'job-2', true), key: 'key-2', deletion: '1' }),
    reply: ['skipped_tombstone', 'none', hook(2, 'job-2', true)],
    after: { '@record': tombstone(hook(1, 'job-1', true)) },
  },
  {
    name: 'a tombstone: a retry of the deletion itself is current, and keeps the tombstone for good',
    before: { '@record': { ...tombstone(hook(1, 'job-1', true)), ttl: 600 } },
    keys: KEYS,
    args: args({ version: hook(1, 'job-1', true), key: 'key-1', deletion: '1' }),
    reply: ['current', 'none', hook(1, 'job-1', true)],
    after: { '@record': tombstone(hook(1, 'job-1', true)) },
  },
  {
    name: 'a provisional deletion over the live API state: a tombstone that says so, out of its index',
    before: {
      '@record': { hash: { version: api(1), last_key: 'key-1', external_id: 'b', index_key: '@index:b' } },
      '@index:b': { set: ['cust_1'] },
    },
    keys: INDEXED,
    args: args({ version: gone(1), key: 'key-2', deletion: 'p' }),
    reply: ['applied', 'none', gone(1)],
    after: {
      '@record': { hash: { version: gone(1), last_key: 'key-2', deleted: '1', deleted_at: NOW, provisional: '1' } },
    },
  },
  {
    name: 'a revival: a live API state of the very time of a provisional deletion takes its version, revived',
    before: { '@record': tombstone(gone(1), { provisional: '1' }) },
    keys: INDEXED,
    args: args({ version: api(1), key: 'key-3', fields: ['external_id', 'b'] }),
    reply: ['applied', 'none', revived(1)],
    after: {
      '@record': { hash: { version: revived(1), last_key: 'key-3', external_id: 'b', index_key: '@index:b' } },
      '@index:b': { set: ['cust_1'] },
    },
  },
  {
    name: 'a provisional deletion: a live API state of a later time is applied as it is',
    before: { '@record': tombstone(gone(1), { provisional: '1' }) },
    keys: KEYS,
    args: args({ version: api(2), key: 'key-3' }),
    reply: ['applied', 'none', api(2)],
    after: { '@record': { hash: { version: api(2), last_key: 'key-3' } } },
  },
  {
    name: 'a provisional deletion: a live API state of an earlier time is a read behind, stale',
    before: { '@record': tombstone(gone(2), { provisional: '1' }) },
    keys: KEYS,
    args: args({ version: api(1), key: 'key-3' }),
    reply: ['skipped_stale', 'none', api(1)],
    after: { '@record': tombstone(gone(2), { provisional: '1' }) },
  },
  {
    name: 'a provisional deletion: a later webhook state supersedes it too (it is ordered like any state)',
    before: { '@record': tombstone(gone(1), { provisional: '1' }) },
    keys: KEYS,
    args: args({ version: hook(2), key: 'key-3' }),
    reply: ['applied', 'none', hook(2)],
    after: { '@record': { hash: { version: hook(2), last_key: 'key-3' } } },
  },
  {
    name: 'a provisional deletion: a final deletion makes it final, its deletion time kept',
    before: { '@record': tombstone(gone(1), { provisional: '1' }) },
    keys: KEYS,
    args: args({ version: hook(2, 'job-2', true), key: 'key-3', deletion: '1' }),
    reply: ['applied', 'none', hook(2, 'job-2', true)],
    after: { '@record': tombstone(hook(2, 'job-2', true), { last_key: 'key-3' }) },
  },
  {
    name: 'a record of before versions: its updated_at_ms orders it (an older state is stale)',
    before: { '@record': { hash: { updated_at_ms: String(Date.parse(at(2))), last_key: 'old' } } },
    keys: KEYS,
    args: args({ version: hook(1) }),
    reply: ['skipped_stale', 'none', hook(1)],
    after: { '@record': { hash: { updated_at_ms: String(Date.parse(at(2))), last_key: 'old' } } },
  },
  {
    name: 'a record of before versions: a state of its very updated_at, accepted since, is applied',
    before: { '@record': { hash: { updated_at_ms: String(Date.parse(at(2))), last_key: 'old' } } },
    keys: KEYS,
    args: args({ version: hook(2) }),
    reply: ['applied', 'none', hook(2)],
    after: { '@record': { hash: { updated_at_ms: String(Date.parse(at(2))), last_key: 'key-1', version: hook(2) } } },
  },
  {
    name: "a delivery's first job pins its version, for the pin's TTL",
    before: {},
    keys: KEYS,
    args: args({ version: hook(1), pinTtl: '3600' }),
    reply: ['applied', 'none', hook(1)],
    after: { '@pin': { string: hook(1), ttl: 3600 }, '@record': { hash: { version: hook(1), last_key: 'key-1' } } },
  },
  {
    name: "a delivery's later job (a resend with newer content) takes the pinned version: current",
    before: { '@pin': { string: hook(1), ttl: 3600 }, '@record': { hash: { version: hook(1), last_key: 'key-1' } } },
    keys: KEYS,
    args: args({ version: hook(2), pinTtl: '3600' }),
    reply: ['current', 'none', hook(1)],
    after: { '@pin': { string: hook(1), ttl: 3600 }, '@record': { hash: { version: hook(1), last_key: 'key-1' } } },
  },
];

const forwards: ScriptCase[] = [
  {
    name: 'a forward asked for: the lock taken, with its TTL',
    before: {},
    keys: KEYS,
    args: args({ version: hook(1), token: 'tok-1' }),
    reply: ['applied', 'locked', hook(1)],
    after: { '@record': { hash: { version: hook(1), last_key: 'key-1' } }, ...LOCKED },
  },
  {
    name: 'the lock held by another forward of the record: busy, the lock left',
    before: { '@lock': { string: 'tok-0', ttl: 30 } },
    keys: KEYS,
    args: args({ version: hook(1), token: 'tok-1' }),
    reply: ['applied', 'busy', hook(1)],
    after: { '@record': { hash: { version: hook(1), last_key: 'key-1' } }, '@lock': { string: 'tok-0', ttl: 30 } },
  },
  {
    name: 'the lock ours already (this call, sent again after a dropped connection): locked',
    before: { '@record': { hash: { version: hook(1), last_key: 'key-1' } }, ...LOCKED },
    keys: KEYS,
    args: args({ version: hook(1), token: 'tok-1' }),
    reply: ['current', 'locked', hook(1)],
    after: { '@record': { hash: { version: hook(1), last_key: 'key-1' } }, ...LOCKED },
  },
  {
    name: 'this very version acknowledged: already, no lock taken',
    before: { '@record': { hash: { version: hook(1), last_key: 'key-1', forwarded_version: hook(1) } } },
    keys: KEYS,
    args: args({ version: hook(1), token: 'tok-1' }),
    reply: ['current', 'already', hook(1)],
    after: { '@record': { hash: { version: hook(1), last_key: 'key-1', forwarded_version: hook(1) } } },
  },
  {
    name: 'states: a newer state acknowledged than this one: already, no lock taken',
    before: { '@record': { hash: { version: hook(1), last_key: 'key-1', forwarded_version: hook(2) } } },
    keys: KEYS,
    args: args({ version: hook(1), token: 'tok-1' }),
    reply: ['current', 'already', hook(1)],
    after: { '@record': { hash: { version: hook(1), last_key: 'key-1', forwarded_version: hook(2) } } },
  },
  {
    name: 'an announcement: the API state acknowledged already goes out once more for its delivery',
    before: { '@record': { hash: { version_a: api(1), last_key_a: 'key-1', forwarded_version_a: api(1) } } },
    keys: KEYS,
    args: args({ version: api(1), key: 'key-2', token: 'tok-1', ordering: 'announce', clock: '_a' }),
    reply: ['unchanged', 'locked', api(1)],
    after: {
      '@record': { hash: { version_a: api(1), last_key_a: 'key-1', forwarded_version_a: api(1) } },
      ...LOCKED,
    },
  },
  {
    name: 'the api clock as a state (no announcement): the state acknowledged already is not sent again',
    before: { '@record': { hash: { version_a: api(1), last_key_a: 'key-1', forwarded_version_a: api(1) } } },
    keys: KEYS,
    args: args({ version: api(1), key: 'key-2', token: 'tok-1', clock: '_a' }),
    reply: ['unchanged', 'already', api(1)],
    after: { '@record': { hash: { version_a: api(1), last_key_a: 'key-1', forwarded_version_a: api(1) } } },
  },
];

/** An entity mark's event: ordered by payload time, per clock, expiring, forwarded under the lock. */
const event = (version: string, o: { clock?: '_p' | '_r'; deletion?: '0' | '1'; key?: string } = {}) =>
  args({ version, ordering: 'event', clock: o.clock ?? '_p', recordTtl: '600', token: 'tok-1', ...o });

const events: ScriptCase[] = [
  {
    name: "events: a first event, stored under its clock's fields, the record expiring with its TTL",
    before: {},
    keys: KEYS,
    args: event(hook(1)),
    reply: ['applied', 'locked', hook(1)],
    after: { '@record': { hash: { version_p: hook(1), last_key_p: 'key-1' }, ttl: 600 }, ...LOCKED },
  },
  {
    name: 'events: an older one, no newer one acknowledged: forwarded (a stored one may yet fail), the newer kept',
    before: { '@record': { hash: { version_p: hook(2), last_key_p: 'key-2' } } },
    keys: KEYS,
    args: event(hook(1)),
    reply: ['applied', 'locked', hook(1)],
    after: { '@record': { hash: { version_p: hook(2), last_key_p: 'key-2' }, ttl: 600 }, ...LOCKED },
  },
  {
    name: 'events: an older one after a newer one was acknowledged: stale, no lock',
    before: { '@record': { hash: { version_p: hook(2), last_key_p: 'key-2', forwarded_version_p: hook(2) } } },
    keys: KEYS,
    args: event(hook(1)),
    reply: ['skipped_stale', 'none', hook(1)],
    after: {
      '@record': { hash: { version_p: hook(2), last_key_p: 'key-2', forwarded_version_p: hook(2) }, ttl: 600 },
    },
  },
  {
    name: 'events: an older one after a newer one may have reached the target (pending): stale',
    before: { '@record': { hash: { version_p: hook(2), last_key_p: 'key-2', pending_version_p: hook(2) } } },
    keys: KEYS,
    args: event(hook(1)),
    reply: ['skipped_stale', 'none', hook(1)],
    after: {
      '@record': { hash: { version_p: hook(2), last_key_p: 'key-2', pending_version_p: hook(2) }, ttl: 600 },
    },
  },
  {
    name: 'events: a tie of payload time with the acknowledged one, accepted later: stored and forwarded',
    before: {
      '@record': { hash: { version_p: sent(2, 5), last_key_p: 'key-a', forwarded_version_p: sent(2, 5) } },
    },
    keys: KEYS,
    args: event(sent(2, 6), { key: 'key-b' }),
    reply: ['applied', 'locked', sent(2, 6)],
    after: {
      '@record': { hash: { version_p: sent(2, 6), last_key_p: 'key-b', forwarded_version_p: sent(2, 5) }, ttl: 600 },
      ...LOCKED,
    },
  },
  {
    name: 'events: a tie of payload time, accepted before the acknowledged one: forwarded (payload time alone orders events), not stored',
    before: {
      '@record': { hash: { version_p: sent(2, 5), last_key_p: 'key-a', forwarded_version_p: sent(2, 5) } },
    },
    keys: KEYS,
    args: event(sent(2, 3), { key: 'key-b' }),
    reply: ['applied', 'locked', sent(2, 3)],
    after: {
      '@record': { hash: { version_p: sent(2, 5), last_key_p: 'key-a', forwarded_version_p: sent(2, 5) }, ttl: 600 },
      ...LOCKED,
    },
  },
  {
    name: "events: clocks apart: a receipt-clock event is never compared with the payload clock's newer versions",
    before: { '@record': { hash: { version_p: hook(3), last_key_p: 'key-3', forwarded_version_p: hook(3) } } },
    keys: KEYS,
    args: event(receipt(1), { clock: '_r' }),
    reply: ['applied', 'locked', receipt(1)],
    after: {
      '@record': {
        hash: {
          version_p: hook(3),
          last_key_p: 'key-3',
          forwarded_version_p: hook(3),
          version_r: receipt(1),
          last_key_r: 'key-1',
        },
        ttl: 600,
      },
      ...LOCKED,
    },
  },
  {
    name: 'events: a deletion is a tombstone, kept for good (its TTL dropped)',
    before: { '@record': { hash: { version_r: receipt(1), last_key_r: 'key-1' }, ttl: 600 } },
    keys: KEYS,
    args: event(receipt(2, true), { clock: '_r', deletion: '1', key: 'key-2' }),
    reply: ['applied', 'locked', receipt(2, true)],
    after: {
      '@record': { hash: { version_r: receipt(2, true), last_key_r: 'key-2', deleted: '1', deleted_at: NOW } },
      ...LOCKED,
    },
  },
  {
    name: 'events: after a tombstone, an event of another clock is skipped too',
    before: {
      '@record': { hash: { version_r: receipt(1, true), last_key_r: 'key-1', deleted: '1', deleted_at: '5' } },
    },
    keys: KEYS,
    args: event(hook(2)),
    reply: ['skipped_tombstone', 'none', hook(2)],
    after: { '@record': { hash: { version_r: receipt(1, true), last_key_r: 'key-1', deleted: '1', deleted_at: '5' } } },
  },
];

const wrongTypes: ScriptCase[] = [
  {
    name: 'a record of the wrong type (a list): the call fails, nothing written',
    before: { '@record': { list: ['x'] } },
    keys: KEYS,
    args: args({ version: hook(1), token: 'tok-1' }),
    error: /WRONGTYPE/,
    after: { '@record': { list: ['x'] } },
  },
  {
    name: 'a delivery pin of the wrong type (a hash): the call fails, nothing written',
    before: { '@pin': { hash: { x: '1' } } },
    keys: KEYS,
    args: args({ version: hook(1), pinTtl: '3600' }),
    error: /WRONGTYPE/,
    after: { '@pin': { hash: { x: '1' } } },
  },
  {
    name: 'an index of the wrong type: the call fails after the record was written (Redis rolls no script back)',
    before: { '@index:b': { list: ['x'] } },
    keys: INDEXED,
    args: args({ version: hook(1) }),
    error: /WRONGTYPE/,
    after: {
      '@record': { hash: { version: hook(1), last_key: 'key-1', index_key: '@index:b' } },
      '@index:b': { list: ['x'] },
    },
  },
  {
    name: 'a lock of the wrong type: the call fails after the version was stored, the lock left',
    before: { '@lock': { hash: { x: '1' } } },
    keys: KEYS,
    args: args({ version: hook(1), token: 'tok-1' }),
    error: /WRONGTYPE/,
    after: { '@record': { hash: { version: hook(1), last_key: 'key-1' } }, '@lock': { hash: { x: '1' } } },
  },
];

const test = redisTest.extend('connection', async ({ redis }, { onCleanup }) => {
  const connection = new Redis(redis.url);
  onCleanup(() => connection.disconnect());
  return connection;
});

describe('apply-version.lua', () => {
  test.for([...states, ...forwards, ...events, ...wrongTypes])('$name', async (row, { connection }) => {
    await expectScriptCase(connection, scriptCommand(connection, applyVersionScript), row);
  });
});
