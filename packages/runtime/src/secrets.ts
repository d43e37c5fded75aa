import type { z } from 'zod';

/**
 * Standard Webhooks / Svix signing secrets: `whsec_` followed by the base64 of the HMAC key.
 * Svix's own keys are 24 bytes and the Standard Webhooks spec asks for 24 to 64: a shorter key is
 * refused, since a 1-byte key (`whsec_AA==`) can be found by trying all 256.
 */
export const MIN_SECRET_BYTES = 24;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;

/**
 * Secrets printed where anyone reads them: a receiver that accepts one accepts forged webhooks
 * (`cp .env.example .env && docker compose up` did, a forged `customer.deleted` answered 202).
 * Svix's documentation example, which this README printed and the tests used. (`.env.example`'s
 * own placeholders decode to "replace-me-…" and are caught by PLACEHOLDER_TEXT, as are ones like them.)
 */
const PUBLISHED_SECRETS: ReadonlySet<string> = new Set(['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw']);

/** What marks a value (a token, a password, a secret's decoded key) as an example to replace. */
const PLACEHOLDER_TEXT = /replace[-_ ]?me|change[-_ ]?me|placeholder|example|your[-_ ](?:svix[-_ ])?secret|dummy/i;

/** Whether a plain-text secret (a token, a password, an API key) is an example to replace. */
export function isPlaceholder(value: string): boolean {
  return PLACEHOLDER_TEXT.test(value);
}

/**
 * Whether a `whsec_…` secret is one printed in public (Svix's docs, this repository) or an example
 * (its key decodes to "replace-me…" and the like): anyone can sign with it.
 */
export function isExampleSecret(secret: string): boolean {
  if (PUBLISHED_SECRETS.has(secret)) return true;
  const encoded = secret.slice('whsec_'.length);
  return BASE64.test(encoded) && isPlaceholder(Buffer.from(encoded, 'base64').toString('latin1'));
}

/** What is wrong with a `whsec_…` secret, or undefined when it can sign and verify. Never echoes it. */
export function whsecProblem(secret: string): string | undefined {
  if (!secret.startsWith('whsec_')) return 'must start with "whsec_"';
  const encoded = secret.slice('whsec_'.length);
  if (encoded.length === 0 || !BASE64.test(encoded)) return 'is not "whsec_" followed by base64';
  if (isExampleSecret(secret)) {
    return 'is an example secret (from .env.example or public documentation): anyone can sign with it';
  }
  const bytes = Buffer.from(encoded, 'base64').length;
  if (bytes < MIN_SECRET_BYTES) {
    return `is a ${bytes}-byte key; at least ${MIN_SECRET_BYTES} bytes are needed (echo "whsec_$(openssl rand -base64 24)")`;
  }
  return undefined;
}

/**
 * A plain-text secret variable (a static token, a password, an API key) that refuses an example
 * value, e.g. `.env.example`'s "replace-me-…": `fix` says where the real one comes from.
 */
export function refusingPlaceholders<T extends z.ZodString>(schema: T, fix: string) {
  return schema.refine((value) => !isPlaceholder(value), {
    error: `is an example value (a placeholder from .env.example or documentation): ${fix}`,
  });
}
