import { describe, expect, it } from 'vitest';
import { contentHash, idempotencyKey, keySafe } from './idempotency.js';

const body = new TextEncoder().encode('{"event_type":"customer.created"}');

describe('idempotencyKey', () => {
  it('uses the delivery id when there is one', () => {
    expect(idempotencyKey({ deliveryId: 'msg_2x3Y', eventType: 'customer.created', rawBody: body })).toBe(
      'id-msg_2x3Y',
    );
  });

  it('hashes delivery ids that could break Redis keys', () => {
    const key = idempotencyKey({ deliveryId: 'a:b c', eventType: 'customer.created', rawBody: body });
    expect(key).toMatch(/^idh-[0-9a-f]{64}$/);
  });

  it('hashes the event type and the exact bytes otherwise', () => {
    const key = idempotencyKey({ eventType: 'customer.created', rawBody: body });
    expect(key).toMatch(/^body-[0-9a-f]{64}$/);
    expect(idempotencyKey({ eventType: 'customer.created', rawBody: body })).toBe(key);
    expect(idempotencyKey({ eventType: 'customer.updated', rawBody: body })).not.toBe(key);
    expect(idempotencyKey({ eventType: 'customer.created', rawBody: new TextEncoder().encode('{ }') })).not.toBe(key);
  });
});

describe('idempotencyKey, native chain', () => {
  const x = new TextEncoder().encode('{"event_type":"customer.updated","customer":{"name":"X"}}');
  const y = new TextEncoder().encode('{"event_type":"customer.updated","customer":{"name":"Y"}}');
  const key = (rawBody: Uint8Array, previous?: string) =>
    idempotencyKey({ eventType: 'customer.updated', rawBody, previous });

  it('is the content hash when the entity had no previous delivery (as before chains existed)', () => {
    expect(key(x)).toBe(`body-${contentHash('customer.updated', x)}`);
  });

  it('gives every step of X, Y, X, Y, X a key of its own; the same step twice gets the same key', () => {
    const keys: string[] = [];
    for (const body of [x, y, x, y, x]) keys.push(key(body, keys.at(-1)));
    expect(new Set(keys).size).toBe(5);
    for (const k of keys) expect(k).toMatch(/^body-[0-9a-f]{64}$/);
    expect(key(x, keys[3])).toBe(keys[4]);
  });

  it('ignores the chain when the sender gave a delivery id', () => {
    expect(idempotencyKey({ deliveryId: 'msg_1', eventType: 'customer.updated', rawBody: x, previous: 'abc' })).toBe(
      'id-msg_1',
    );
  });
});

describe('keySafe', () => {
  it('keeps plain ids and hashes anything that could break a key', () => {
    expect(keySafe('cust_01K2')).toBe('cust_01K2');
    expect(keySafe('a:b')).toMatch(/^h-[0-9a-f]{64}$/);
    expect(keySafe('x'.repeat(200))).toMatch(/^h-[0-9a-f]{64}$/);
  });
});
