import type { IncomingHttpHeaders } from 'node:http';
import { createSignatureVerifier, type SignedHeaders } from './signature.js';
import { createStaticTokenCheck } from './static-token.js';

export type AuthResult =
  | { ok: true; method: 'signature'; deliveryId: string }
  | { ok: true; method: 'static-header' | 'none'; deliveryId: string | undefined }
  | { ok: false; reason: string };

/** What the headers alone decide, before a byte of the body is read. */
export type HeaderCheck =
  | { ok: false; reason: string }
  /** Authenticated by the headers: the static token (or no authentication at all). */
  | { ok: true; authenticated: AuthResult & { ok: true } }
  /** Sound signature headers: the signature over the body decides (`checkBody`). */
  | { ok: true; signed: SignedHeaders };

export interface Authenticator {
  checkHeaders(headers: IncomingHttpHeaders): HeaderCheck;
  checkBody(signed: SignedHeaders, rawBody: Buffer): AuthResult;
}

/** The methods a receiver accepts (its configuration's `auth`, which depends on this, not the reverse). */
export interface AuthOptions {
  secrets: readonly string[];
  toleranceSeconds: number;
  staticHeader: { name: string; token: string } | undefined;
  /** No authentication at all: only when explicitly asked for with FLEXPRICE_WEBHOOK_AUTH=none. */
  disabled: boolean;
}

/** A sender-supplied delivery id, for deduplication when the request is not signed. */
function unsignedDeliveryId(headers: IncomingHttpHeaders): string | undefined {
  const id = headers['webhook-id'] ?? headers['svix-id'];
  return typeof id === 'string' && id.length > 0 ? id : undefined;
}

/**
 * A request passes when it satisfies one configured method: the static header (cheap, checked
 * first) or a valid signature. With FLEXPRICE_WEBHOOK_AUTH=none every request passes.
 *
 * Everything the headers can refuse is refused on the headers (`checkHeaders`): a missing or wrong
 * static token, and missing, malformed or stale signature headers. Reading a body first would let
 * anyone without credentials make the receiver hold it (a megabyte a connection).
 */
export function createAuthenticator(auth: AuthOptions, now?: () => number): Authenticator {
  const signatures =
    auth.secrets.length > 0
      ? createSignatureVerifier({ secrets: auth.secrets, toleranceSeconds: auth.toleranceSeconds, now })
      : undefined;
  const checkStaticToken = auth.staticHeader ? createStaticTokenCheck(auth.staticHeader) : undefined;
  return {
    checkHeaders(headers) {
      if (auth.disabled) {
        return { ok: true, authenticated: { ok: true, method: 'none', deliveryId: unsignedDeliveryId(headers) } };
      }
      if (checkStaticToken?.(headers)) {
        return {
          ok: true,
          authenticated: { ok: true, method: 'static-header', deliveryId: unsignedDeliveryId(headers) },
        };
      }
      const signature = signatures?.checkHeaders(headers);
      if (signature?.ok) return { ok: true, signed: signature.signed };
      return { ok: false, reason: signature?.reason ?? 'missing_credentials' };
    },
    checkBody(signed, rawBody) {
      const signature = signatures?.verifyBody(signed, rawBody);
      if (signature?.ok) return { ok: true, method: 'signature', deliveryId: signature.deliveryId };
      return { ok: false, reason: signature?.reason ?? 'missing_credentials' };
    },
  };
}
