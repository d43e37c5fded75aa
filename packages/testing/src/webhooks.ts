import { randomBytes, randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/**
 * The secrets, tokens and signed deliveries the tests and the bench use, written once. Test values
 * only: valid Standard Webhooks keys (24 bytes of base64), never used anywhere real, and printed in
 * no document (the apps refuse a secret that is: Svix's documentation example was this one once).
 */
export const TEST_SECRET = 'whsec_WOzE499Z+6IuWWSnkIbYbOIkSqYGkyZW';
/** A second one: a rotation, or the secret forwards are signed with. */
export const TEST_OTHER_SECRET = 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD';

/** A fresh signing secret, for a test that needs one of its own. */
export function newTestSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

/** The static header of self-hosted (native) Flexprice, as the test receivers are configured. */
export const TEST_STATIC_AUTH = { header: 'X-Api-Key', token: 'tenant-token-0123456789abcdef' } as const;

export interface SignOptions {
  secret?: string;
  /** The delivery id (`svix-id`): stable across one delivery's retries. A new one by default. */
  id?: string;
  /** When it was signed, in seconds since the epoch (now by default). */
  timestampSeconds?: number;
  /** `svix-*` headers, as Flexprice Cloud sends them, or the Standard Webhooks `webhook-*` ones. */
  family?: 'svix' | 'webhook';
}

/** The headers of a delivery of `body`, signed as Svix / Standard Webhooks do, with a JSON type. */
export function signedHeaders(body: string, options: SignOptions = {}): Record<string, string> {
  const { secret = TEST_SECRET, family = 'svix' } = options;
  const id = options.id ?? `msg_${randomUUID().replaceAll('-', '')}`;
  const timestampSeconds = options.timestampSeconds ?? Math.floor(Date.now() / 1000);
  return {
    'content-type': 'application/json',
    [`${family}-id`]: id,
    [`${family}-timestamp`]: String(timestampSeconds),
    [`${family}-signature`]: new Webhook(secret).sign(id, new Date(timestampSeconds * 1000), body),
  };
}

/** The headers of a native (self-hosted) delivery: the static header, no signature, no id. */
export function staticAuthHeaders(): Record<string, string> {
  return { 'content-type': 'application/json', [TEST_STATIC_AUTH.header]: TEST_STATIC_AUTH.token };
}
