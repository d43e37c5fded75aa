import type { IncomingHttpHeaders } from 'node:http';
import type { Config } from '../config.js';
import { createSignatureVerifier, type SignatureResult } from './signature.js';
import { createStaticTokenCheck } from './static-token.js';

export type AuthResult =
  | { ok: true; method: 'signature'; deliveryId: string }
  | { ok: true; method: 'static-header' | 'none'; deliveryId: string | undefined }
  | { ok: false; reason: string };

export type Authenticate = (headers: IncomingHttpHeaders, rawBody: Buffer) => AuthResult;

/** A sender-supplied delivery id, for deduplication when the request is not signed. */
function unsignedDeliveryId(headers: IncomingHttpHeaders): string | undefined {
  const id = headers['webhook-id'] ?? headers['svix-id'];
  return typeof id === 'string' && id.length > 0 ? id : undefined;
}

/**
 * A request passes when it satisfies one configured method: the static header (cheap, checked
 * first) or a valid signature. With FLEXPRICE_WEBHOOK_AUTH=none every request passes.
 */
export function createAuthenticator(auth: Config['auth'], now?: () => number): Authenticate {
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
