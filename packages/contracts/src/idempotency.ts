import { createHash } from 'node:crypto';

/** Delivery ids we use as they are: Svix's `msg_…` ids and anything alike. Others are hashed. */
const SAFE_DELIVERY_ID = /^[A-Za-z0-9_.-]{1,128}$/;

function sha256(...parts: (string | Uint8Array)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

/**
 * The key that makes a redelivery a duplicate. With Svix (`svix-id` / `webhook-id`) it is the
 * delivery id, stable across every retry and portal resend. Natively Flexprice sends no id, so it is
 * a hash of the event type and the exact bytes: exact repeats collapse, a payload rebuilt from newer
 * state does not (handlers upsert state, so either is harmless).
 *
 * The key never contains `:` (BullMQ builds Redis keys with it) and is at most 135 characters.
 */
export function idempotencyKey(input: {
  deliveryId?: string | undefined;
  eventType: string;
  rawBody: Uint8Array;
}): string {
  const { deliveryId, eventType, rawBody } = input;
  if (deliveryId !== undefined && deliveryId.length > 0) {
    return SAFE_DELIVERY_ID.test(deliveryId) ? `id-${deliveryId}` : `idh-${sha256(deliveryId)}`;
  }
  return `body-${sha256(eventType, '\n', rawBody)}`;
}
