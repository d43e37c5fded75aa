/**
 * Standard Webhooks / Svix signing secrets: `whsec_` followed by the base64 of the HMAC key.
 * Svix's own keys are 24 bytes and the Standard Webhooks spec asks for 24 to 64: a shorter key is
 * refused, since a 1-byte key (`whsec_AA==`) can be found by trying all 256.
 */
export const MIN_SECRET_BYTES = 24;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;

/** What is wrong with a `whsec_…` secret, or undefined when it can sign and verify. Never echoes it. */
export function whsecProblem(secret: string): string | undefined {
  if (!secret.startsWith('whsec_')) return 'must start with "whsec_"';
  const encoded = secret.slice('whsec_'.length);
  if (encoded.length === 0 || !BASE64.test(encoded)) return 'is not "whsec_" followed by base64';
  const bytes = Buffer.from(encoded, 'base64').length;
  if (bytes < MIN_SECRET_BYTES) {
    return `is a ${bytes}-byte key; at least ${MIN_SECRET_BYTES} bytes are needed (echo "whsec_$(openssl rand -base64 24)")`;
  }
  return undefined;
}
