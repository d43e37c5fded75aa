import { describe, expect, it } from 'vitest';
import { FAMILY_FIXTURES } from './fixtures/index.js';
import {
  apiStateVersion,
  ENTITY_CATALOG,
  EVENT_TYPES,
  type EventType,
  entityIdOf,
  erasureVersion,
  eventVersion,
  microsFromIso,
  microsFromRedisTime,
  parseWebhookEvent,
  payloadVersionOf,
  provisionalDeletionVersion,
  REVIVED_TIE_BREAK,
  stateVersion,
  timestampNanos,
  VERSION_FORMAT,
  VERSION_PATTERN,
  versionClockOf,
} from './index.js';

describe('timestampNanos', () => {
  it('keeps every digit Go sends, so microseconds order correctly', () => {
    const newer = timestampNanos('2026-08-20T10:00:00.123900Z');
    const older = timestampNanos('2026-08-20T10:00:00.123100Z');
    expect(newer).toBe('01787220000123900000');
    expect(older).toBe('01787220000123100000');
    expect((older ?? '') < (newer ?? '')).toBe(true);
    // Date.parse alone sees both as the same millisecond.
    expect(Date.parse('2026-08-20T10:00:00.123900Z')).toBe(Date.parse('2026-08-20T10:00:00.123100Z'));
  });

  it('reads nanoseconds, no fraction, and offsets', () => {
    expect(timestampNanos('2026-08-20T10:00:00.000000001Z')).toBe('01787220000000000001');
    expect(timestampNanos('2026-08-20T10:00:00Z')).toBe('01787220000000000000');
    expect(timestampNanos('2026-08-20T12:00:00.5+02:00')).toBe('01787220000500000000');
  });

  it('refuses what is not RFC 3339', () => {
    expect(timestampNanos('2026-08-20 10:00:00Z')).toBeUndefined();
    expect(timestampNanos('yesterday')).toBeUndefined();
    expect(timestampNanos('1960-01-01T00:00:00Z')).toBeUndefined();
  });
});

describe('acceptance micros', () => {
  it('are 17 digits from Redis TIME or from an ISO time', () => {
    expect(microsFromRedisTime('1787220000', '42')).toBe('01787220000000042');
    expect(microsFromIso('2026-08-20T10:00:00.123Z')).toBe('01787220000123000');
  });
});

describe('stateVersion', () => {
  const accepted = (n: number) => microsFromRedisTime(1787220000, n);
  const live = (acceptedMicros: string, payloadTime?: string, tieBreak = 'a') =>
    stateVersion({ deleted: false, payloadTime, acceptedMicros, tieBreak });

  it('orders by the payload time first, then by acceptance, then by the tie-break', () => {
    const versions = [
      live(accepted(9), '2026-08-20T09:00:00.000001Z'),
      live(accepted(1), '2026-08-20T09:00:00.000002Z'),
      live(accepted(2), '2026-08-20T09:00:00.000002Z'),
      live(accepted(2), '2026-08-20T09:00:00.000002Z', 'b'),
    ];
    expect([...versions].sort()).toEqual(versions);
    for (const version of versions) expect(version).toMatch(VERSION_PATTERN);
  });

  it('without a payload time, acceptance orders, across all 17 digits', () => {
    const a = live(microsFromRedisTime(1787220000, 999_999));
    const b = live(microsFromRedisTime(1787220001, 0));
    expect(a < b).toBe(true);
  });

  it('puts a deletion after every live state, whenever it was accepted', () => {
    const deletion = stateVersion({
      deleted: true,
      payloadTime: undefined,
      acceptedMicros: accepted(1),
      tieBreak: 'a',
    });
    expect(live(accepted(2)) < deletion).toBe(true);
    expect(live(accepted(2), '2099-01-01T00:00:00Z') < deletion).toBe(true);
  });
});

describe('apiStateVersion', () => {
  it('is the same for two reads of one state, and orders by updated_at at full precision', () => {
    const a = apiStateVersion({ deleted: false, updatedAt: '2026-08-20T10:00:00.123456Z' });
    expect(a).toBe('0.01787220000123456000.01787220000123456.api');
    expect(apiStateVersion({ deleted: false, updatedAt: '2026-08-20T10:00:00.123456Z' })).toBe(a);
    expect((a ?? '') < (apiStateVersion({ deleted: false, updatedAt: '2026-08-20T10:00:00.123457Z' }) ?? '')).toBe(
      true,
    );
    expect(a).toMatch(VERSION_PATTERN);
  });

  it('puts a deletion after every live state, and has none for a time it cannot read', () => {
    const deleted = apiStateVersion({ deleted: true, updatedAt: '2026-08-20T10:00:00Z' }) ?? '';
    expect(deleted > (apiStateVersion({ deleted: false, updatedAt: '2099-01-01T00:00:00Z' }) ?? '')).toBe(true);
    expect(apiStateVersion({ deleted: false, updatedAt: 'never' })).toBeUndefined();
  });
});

describe('entity catalog', () => {
  it('declares an entity id path (or explicitly none) and a version field for every event type', () => {
    expect(Object.keys(ENTITY_CATALOG).sort()).toEqual([...EVENT_TYPES].sort());
    const withoutEntity = EVENT_TYPES.filter((type) => ENTITY_CATALOG[type].id === null);
    expect(withoutEntity).toEqual(['feature.wallet_balance.alert', 'event.rejected']);
  });

  it('tells apart distinct alerts about one id, and keeps one alert reached and recovered together', () => {
    const [lineItemAlert, recovered] = FAMILY_FIXTURES.spend_alert as Record<string, unknown>[];
    const reached = { ...lineItemAlert, event_type: 'subscription.line_item_spend.threshold_reached' };
    const entity = (type: EventType, body: unknown) => entityIdOf(type, body);
    const a = entity('subscription.line_item_spend.threshold_reached', reached);
    expect(a).toBe(
      'subs_01K30A4B5C6D7E8F9G0H1J2K3M#subscription_line_item_spend#subs_line_01K35A1B2C3D4E5F6G7H8J9K0M#',
    );
    const group = {
      ...reached,
      subscription_line_item_id: undefined,
      group_id: 'subs_line_01K35A1B2C3D4E5F6G7H8J9K0M',
    };
    expect(entity('subscription.line_item_spend.threshold_reached', group)).not.toBe(a);
    expect(entity('subscription.line_item_spend.threshold_recovered', { ...reached, alert_status: 'ok' })).toBe(a);
    expect(
      entity('subscription.line_item_spend.threshold_reached', { ...reached, subscription_line_item_id: 'li_2' }),
    ).not.toBe(a);
    expect(entity('subscription.spend.threshold_recovered', recovered)).toBe(
      'subs_01K30A4B5C6D7E8F9G0H1J2K3M#subscription_spend##',
    );
    const wallet = { wallet: { id: 'wallet_1' } };
    expect(entity('wallet.credit_balance.dropped', wallet)).toBe(entity('wallet.credit_balance.recovered', wallet));
    expect(entity('wallet.credit_balance.dropped', wallet)).not.toBe(entity('wallet.ongoing_balance.dropped', wallet));
    expect(entity('wallet.updated', wallet)).toBe('wallet_1');
  });

  it('reads a version from the payload only where it carries a time', () => {
    expect(versionClockOf('invoice.update', { invoice: { id: 'inv_1', updated_at: '2026-08-20T10:05:00Z' } })).toBe(
      'payload',
    );
    expect(versionClockOf('invoice.communication.triggered', { invoice: { id: 'inv_1' } })).toBe('receipt');
    expect(versionClockOf('invoice.update', { invoice: { id: 'inv_1', updated_at: 'yesterday' } })).toBe('receipt');
  });

  it("finds each fixture's entity id where the catalog says", () => {
    for (const body of Object.values(FAMILY_FIXTURES).flat()) {
      const parsed = parseWebhookEvent(body);
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
      const id = entityIdOf(parsed.eventType, parsed.event);
      if (ENTITY_CATALOG[parsed.eventType].id === null) expect(id).toBeUndefined();
      else expect(id, parsed.eventType).toMatch(/^[a-z_]+_\w+/);
    }
  });

  it('reads the payload version where there is one', () => {
    const event = { event_type: 'customer.updated', customer: { id: 'cust_1', updated_at: '2026-06-02T10:00:00Z' } };
    expect(payloadVersionOf('customer.updated', event)).toBe('2026-06-02T10:00:00Z');
    expect(payloadVersionOf('customer.updated', { customer: { id: 'cust_1' } })).toBeUndefined();
    expect(payloadVersionOf('feature.wallet_balance.alert', { alert_type: 'x' })).toBeUndefined();
  });

  it('reads the version of every fixture that carries one, and knows which events delete', () => {
    const withVersion = Object.values(FAMILY_FIXTURES)
      .flat()
      .map((body) => parseWebhookEvent(body))
      .flatMap((parsed) => (parsed.ok ? [[parsed.eventType, payloadVersionOf(parsed.eventType, parsed.event)]] : []))
      .filter(([, version]) => version !== undefined)
      .map(([type]) => type);
    expect(withVersion.sort()).toEqual([
      'customer.updated',
      'entitlement.grant.exhausted',
      'event.rejected',
      'invoice.update.finalized',
      'subscription.line_item_spend.threshold_reached',
      'subscription.spend.threshold_recovered',
    ]);
    expect(EVENT_TYPES.filter((type) => ENTITY_CATALOG[type].deletes)).toEqual([
      'customer.deleted',
      'subscription.phase.deleted',
      'feature.deleted',
      'entitlement.deleted',
    ]);
  });

  it('versions an event by its payload time, else by when it was accepted; a deletion outranks both', () => {
    const receipt = {
      receivedAt: '2026-08-20T10:00:00.000Z',
      deliveryId: null,
      idempotencyKey: 'k',
      requestId: 'r',
      inferredEventType: false,
      acceptedAt: '01787220000000001',
    };
    const invoice = (updatedAt: string) => ({ invoice: { id: 'inv_1', updated_at: updatedAt } });
    const older = eventVersion('invoice.update', invoice('2026-08-20T10:05:00.456Z'), receipt, '2');
    const newer = eventVersion(
      'invoice.update',
      invoice('2026-08-20T10:05:00.457Z'),
      { ...receipt, acceptedAt: '01700000000000000' },
      '1',
    );
    expect(older < newer).toBe(true);
    const byReceipt = (acceptedAt: string) =>
      eventVersion('payment.created', { payment: { id: 'pay_1' } }, { ...receipt, acceptedAt }, '1');
    expect(byReceipt('01787220000000001') < byReceipt('01787220000000002')).toBe(true);
    const gone = eventVersion(
      'feature.deleted',
      { feature: { id: 'feat_1' } },
      { ...receipt, acceptedAt: '00000000000000001' },
      '1',
    );
    expect(gone > eventVersion('feature.updated', { feature: { id: 'feat_1' } }, receipt, '9')).toBe(true);
    expect(gone).toMatch(VERSION_PATTERN);
  });
});

describe('provisionalDeletionVersion', () => {
  const live = apiStateVersion({ deleted: false, updatedAt: '2026-08-20T10:05:00.456789Z' }) ?? '';

  it('sorts right after the live API state it replaces, before any later one, and a retry is the same', () => {
    const gone = provisionalDeletionVersion(live);
    expect(gone).toBe(live.replace(/api$/, 'gone.api'));
    expect(gone > live).toBe(true);
    expect(gone < (apiStateVersion({ deleted: false, updatedAt: '2026-08-20T10:05:00.456790Z' }) ?? '')).toBe(true);
    expect(provisionalDeletionVersion(gone)).toBe(gone);
    expect(gone).toMatch(VERSION_PATTERN);
  });

  it('after a revival of that time (revived.api, the store script), sorts after it again, each flip after the last', () => {
    const gone = provisionalDeletionVersion(live);
    const revived = gone.replace(/gone\.api$/, REVIVED_TIE_BREAK);
    const goneAgain = provisionalDeletionVersion(revived);
    expect([live, gone, revived, goneAgain]).toEqual([live, gone, revived, goneAgain].sort());
    expect(goneAgain.endsWith('.revived.gone.api')).toBe(true);
  });

  it('with no API state before it (a webhook one, or none), ranks at time zero: any live API state supersedes it', () => {
    expect(provisionalDeletionVersion(undefined)).toBe(`0.${'0'.repeat(20)}.${'0'.repeat(17)}.gone.api`);
    expect(provisionalDeletionVersion(`0.${'1'.repeat(20)}.${'1'.repeat(17)}.job-1`)).toBe(
      `0.${'0'.repeat(20)}.${'0'.repeat(17)}.gone.api`,
    );
  });
});

describe('erasureVersion', () => {
  it('is a deletion of that millisecond, after every live state, in the shape of every version', () => {
    const ms = Date.parse('2026-08-20T10:05:00.456Z');
    expect(erasureVersion(ms)).toBe('1.01787220300456000000.01787220300456000.erased');
    expect(erasureVersion(ms)).toMatch(VERSION_PATTERN);
    expect(erasureVersion(42)).toBe(`1.${'42'.padStart(14, '0')}000000.${'42'.padStart(14, '0')}000.erased`);
    expect(erasureVersion(0) > (apiStateVersion({ deleted: false, updatedAt: '2099-01-01T00:00:00Z' }) ?? '')).toBe(
      true,
    );
  });
});

describe('VERSION_FORMAT (what the Redis scripts are told of the format)', () => {
  const { LIVE_STATE, PAYLOAD_TIME_DIGITS, ACCEPTED_AT_DIGITS, PAYLOAD_TIME_END, ACCEPTED_AT_END } = VERSION_FORMAT;
  // Lua's string.sub(v, 1, n): the first n characters.
  const upTo = (version: string, end: number) => version.slice(0, end);
  const webhook = stateVersion({
    deleted: false,
    payloadTime: '2026-08-20T10:05:00.456789123Z',
    acceptedMicros: microsFromRedisTime(1787220300, 500),
    tieBreak: 'job-1',
  });
  const api = apiStateVersion({ deleted: false, updatedAt: '2026-08-20T10:05:00.456789Z' }) ?? '';

  it('has the widths and the live state of the versions made here', () => {
    for (const version of [webhook, api, provisionalDeletionVersion(api), provisionalDeletionVersion(undefined)]) {
      const [state, payload, accepted] = version.split('.');
      expect(state).toBe(LIVE_STATE);
      expect(payload).toHaveLength(PAYLOAD_TIME_DIGITS);
      expect(accepted).toHaveLength(ACCEPTED_AT_DIGITS);
    }
    expect(timestampNanos('2026-08-20T10:05:00Z')).toHaveLength(PAYLOAD_TIME_DIGITS);
    expect(microsFromRedisTime(1787220300, 0)).toHaveLength(ACCEPTED_AT_DIGITS);
  });

  it('ends the payload time and the acceptance time where they end', () => {
    expect(upTo(webhook, PAYLOAD_TIME_END)).toBe(`0.${timestampNanos('2026-08-20T10:05:00.456789123Z')}`);
    expect(upTo(webhook, ACCEPTED_AT_END)).toBe(
      `0.${timestampNanos('2026-08-20T10:05:00.456789123Z')}.${microsFromRedisTime(1787220300, 500)}`,
    );
    expect(webhook.slice(ACCEPTED_AT_END)).toBe('.job-1');
    expect(api.slice(ACCEPTED_AT_END)).toBe('.api');
  });

  it('names the tie-breaks the store script reads and writes', () => {
    const gone = provisionalDeletionVersion(api);
    expect(api.endsWith(VERSION_FORMAT.API_SUFFIX)).toBe(true);
    expect(gone.endsWith(VERSION_FORMAT.API_SUFFIX)).toBe(true);
    expect(gone.endsWith(VERSION_FORMAT.GONE_TIE_BREAK)).toBe(true);
    expect(webhook.endsWith(VERSION_FORMAT.API_SUFFIX)).toBe(false);
    // The revival: the deletion's version with REVIVED_TIE_BREAK for GONE_TIE_BREAK, an API version after it.
    const revived = gone.slice(0, -VERSION_FORMAT.GONE_TIE_BREAK.length) + REVIVED_TIE_BREAK;
    expect(revived).toMatch(VERSION_PATTERN);
    expect(revived > gone && revived.endsWith(VERSION_FORMAT.API_SUFFIX)).toBe(true);
    expect(upTo(revived, ACCEPTED_AT_END)).toBe(upTo(api, ACCEPTED_AT_END));
  });
});
