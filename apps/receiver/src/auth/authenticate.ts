import type { IncomingHttpHeaders } from 'node:http';
import { createSignatureVerifier, type SignatureResult } from './signature.js';
import { createStaticTokenCheck } from './static-token.js';

export type AuthResult =
  | { ok: true; method: 'signature'; deliveryId: string }
  | { ok: true; method: 'static-header' | 'none'; deliveryId: string | undefined }
  | { ok: false; reason: string };

export type Authenticate = (headers: IncomingHttpHeaders, rawBody: Buffer) => AuthResult;

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
 */
export function createAuthenticator(auth: AuthOptions, now?: () => number): Authenticate {
  const verifySignature =
    auth.secrets.length > 0
      ? createSignatureVerifier({ secrets: auth.secrets, toleranceSeconds: auth.toleranceSeconds, now })
      : undefined;
  const checkStaticToken = auth.staticHeader ? createStaticTokenCheck(auth.staticHeader) : undefined;

  return (headers, rawBody) => {
    if (auth.disabled) return { ok: true, method: 'none', deliveryId: unsignedDeliveryId(headers) };
    if (checkStaticToken?.(headers)) {
      return { ok: true, method: 'static-header', deliveryId: unsignedDeliveryId(headers) };
    }
    const signature: SignatureResult | undefined = verifySignature?.(headers, rawBody);
    if (signature?.ok) return { ok: true, method: 'signature', deliveryId: signature.deliveryId };
    return { ok: false, reason: signature?.reason ?? 'missing_credentials' };
  };
}
