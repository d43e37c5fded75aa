import { createHmac } from 'node:crypto';
import { TEST_OTHER_SECRET, TEST_SECRET } from '@flexprice/testing';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { createSignatureVerifier } from './signature.js';

const SECRET = TEST_SECRET;
const OLD_SECRET = TEST_OTHER_SECRET;
const NOW = 1_795_000_000; // a fixed clock, in seconds
const body = Buffer.from('{"event_type":"customer.created","customer":{"id":"cust_1"}}');

function headers(options: { secret?: string; id?: string; at?: number; family?: string; payload?: Buffer } = {}) {
  const { secret = SECRET, id = 'msg_1', at = NOW, family = 'svix', payload = body } = options;
  return {
    [`${family}-id`]: id,
    [`${family}-timestamp`]: String(at),
    [`${family}-signature`]: new Webhook(secret).sign(id, new Date(at * 1000), payload),
  };
}

const { verify } = createSignatureVerifier({ secrets: [SECRET], toleranceSeconds: 300, now: () => NOW * 1000 });

describe('createSignatureVerifier', () => {
  it('accepts a valid signature with svix-* or webhook-* headers', () => {
    expect(verify(headers(), body)).toEqual({ ok: true, deliveryId: 'msg_1' });
    expect(verify(headers({ family: 'webhook', id: 'msg_2' }), body)).toEqual({ ok: true, deliveryId: 'msg_2' });
  });

  it('holds the tolerance edge exactly, on both sides', () => {
    expect(verify(headers({ at: NOW - 300 }), body).ok).toBe(true);
    expect(verify(headers({ at: NOW + 300 }), body).ok).toBe(true);
    expect(verify(headers({ at: NOW - 301 }), body)).toEqual({ ok: false, reason: 'stale' });
    expect(verify(headers({ at: NOW + 301 }), body)).toEqual({ ok: false, reason: 'future' });
  });

  it('refuses a signature over other bytes, by another secret, or for another id', () => {
    expect(verify(headers(), Buffer.from(`${body} `))).toEqual({ ok: false, reason: 'no_match' });
    expect(verify(headers({ secret: OLD_SECRET }), body)).toEqual({ ok: false, reason: 'no_match' });
    const forged = { ...headers(), 'svix-id': 'msg_other' };
    expect(verify(forged, body)).toEqual({ ok: false, reason: 'no_match' });
  });

  it('accepts any of several signatures (the sender rotating) and any of several secrets (us rotating)', () => {
    const both = headers();
    const old = headers({ secret: OLD_SECRET })['svix-signature'];
    const rotating = { ...both, 'svix-signature': `${old} ${both['svix-signature']}` };
    expect(verify(rotating, body).ok).toBe(true);
    const twoSecrets = createSignatureVerifier({
      secrets: [SECRET, OLD_SECRET],
      toleranceSeconds: 300,
      now: () => NOW * 1000,
    });
    expect(twoSecrets.verify(headers({ secret: OLD_SECRET }), body).ok).toBe(true);
  });

  it.each([
    ['missing headers', {}, 'missing_headers'],
    ['a timestamp that is not a number', { 'svix-timestamp': '17950000OO' }, 'bad_timestamp'],
    ['a signature of another scheme', { 'svix-signature': 'v1a,abc' }, 'no_match'],
    ['headers mixed from both families', { 'webhook-id': 'msg_1' }, 'missing_headers'],
  ])('refuses %s', (_, override, reason) => {
    const input = Object.keys(override).length === 0 ? {} : { ...headers(), ...override };
    expect(verify(input, body)).toEqual({ ok: false, reason });
  });
});

describe('checkHeaders: what is refused before the body is read', () => {
  const { checkHeaders } = createSignatureVerifier({ secrets: [SECRET], toleranceSeconds: 300, now: () => NOW * 1000 });

  it.each([
    ['missing headers', {}, 'missing_headers'],
    ['a malformed timestamp', { ...headers(), 'svix-timestamp': 'yesterday' }, 'bad_timestamp'],
    ['a stale timestamp', headers({ at: NOW - 301 }), 'stale'],
    ['a timestamp ahead', headers({ at: NOW + 301 }), 'future'],
    ['no v1 signature', { ...headers(), 'svix-signature': 'v2,abc' }, 'no_match'],
    ['a v1 signature that is no HMAC-SHA256 in length', { ...headers(), 'svix-signature': 'v1,AAAA' }, 'no_match'],
  ])('refuses %s', (_, input, reason) => {
    expect(checkHeaders(input)).toEqual({ ok: false, reason });
  });

  it('passes sound headers on to the body, whatever their signature says', () => {
    const forged = { ...headers(), 'svix-signature': `v1,${Buffer.alloc(32).toString('base64')}` };
    const checked = checkHeaders(forged);
    expect(checked).toMatchObject({ ok: true, signed: { id: 'msg_1', seconds: NOW } });
    if (!checked.ok) throw new Error('unreachable');
    expect(
      createSignatureVerifier({ secrets: [SECRET], toleranceSeconds: 300 }).verifyBody(checked.signed, body),
    ).toEqual({ ok: false, reason: 'no_match' });
  });
});

describe('raw bytes', () => {
  it('verifies the exact bytes, also when they are not valid UTF-8', () => {
    const bytes = Buffer.concat([Buffer.from('{"x":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const key = Buffer.from(SECRET.slice(6), 'base64');
    const mac = createHmac('sha256', key).update(`msg_raw.${NOW}.`).update(bytes).digest('base64');
    const signed = { 'webhook-id': 'msg_raw', 'webhook-timestamp': String(NOW), 'webhook-signature': `v1,${mac}` };
    expect(verify(signed, bytes)).toEqual({ ok: true, deliveryId: 'msg_raw' });
    // The same text after a UTF-8 round trip is other bytes: refused.
    expect(verify(signed, Buffer.from(bytes.toString('utf8')))).toEqual({ ok: false, reason: 'no_match' });
  });
});
