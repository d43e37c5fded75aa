import { TEST_SECRET } from '@flexprice/testing';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { createAuthenticator } from './authenticate.js';

const NOW = 1_795_000_000;
const TOKEN = 'tenant-token-0123456789';
const body = Buffer.from('{"event_type":"customer.created"}');
const signed = {
  'svix-id': 'msg_1',
  'svix-timestamp': String(NOW),
  'svix-signature': new Webhook(TEST_SECRET).sign('msg_1', new Date(NOW * 1000), body),
};
const both = createAuthenticator(
  {
    secrets: [TEST_SECRET],
    toleranceSeconds: 300,
    staticHeader: { name: 'x-api-key', token: TOKEN },
    disabled: false,
  },
  () => NOW * 1000,
);

describe('createAuthenticator', () => {
  it('refuses on the headers what needs no body: no credentials, a wrong token, stale signature headers', () => {
    expect(both.checkHeaders({})).toEqual({ ok: false, reason: 'missing_headers' });
    expect(both.checkHeaders({ 'x-api-key': `${TOKEN}x` })).toEqual({ ok: false, reason: 'missing_headers' });
    expect(both.checkHeaders({ ...signed, 'svix-timestamp': String(NOW - 301) })).toEqual({
      ok: false,
      reason: 'stale',
    });
    const tokenOnly = createAuthenticator({
      secrets: [],
      toleranceSeconds: 300,
      staticHeader: { name: 'x-api-key', token: TOKEN },
      disabled: false,
    });
    expect(tokenOnly.checkHeaders({ 'x-api-key': 'wrong' })).toEqual({ ok: false, reason: 'missing_credentials' });
  });

  it('authenticates the static token on the headers, and a signature on the body', () => {
    expect(both.checkHeaders({ 'x-api-key': TOKEN, 'webhook-id': 'd1' })).toEqual({
      ok: true,
      authenticated: { ok: true, method: 'static-header', deliveryId: 'd1' },
    });
    const checked = both.checkHeaders(signed);
    if (!checked.ok || !('signed' in checked))
      throw new Error(`expected signature headers: ${JSON.stringify(checked)}`);
    expect(both.checkBody(checked.signed, body)).toEqual({ ok: true, method: 'signature', deliveryId: 'msg_1' });
    expect(both.checkBody(checked.signed, Buffer.from(`${body} `))).toEqual({ ok: false, reason: 'no_match' });
  });
});
