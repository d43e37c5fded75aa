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

describe('contentHash', () => {
  it('is what the native key is made of: the event type and the exact bytes', () => {
    expect(contentHash('customer.created', body)).toBe(
      idempotencyKey({ eventType: 'customer.created', rawBody: body }).slice(5),
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
