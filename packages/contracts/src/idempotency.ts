import { createHash } from 'node:crypto';

/** Delivery ids we use as they are: Svix's `msg_…` ids and anything alike. Others are hashed. */
const SAFE_DELIVERY_ID = /^[A-Za-z0-9_.-]{1,128}$/;

function sha256(...parts: (string | Uint8Array)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

/** What a delivery without an id is: its event type and its exact bytes, hashed. */
export function contentHash(eventType: string, rawBody: Uint8Array): string {
  return sha256(eventType, '\n', rawBody);
}

/**
 * The key that makes a redelivery a duplicate, and that a forward carries as `webhook-id`.
 *
 * With Svix (`svix-id` / `webhook-id`) it is the delivery id, stable across every retry and portal
 * resend. Natively Flexprice sends no id: for an event about an entity, the receiver chains the
 * content hash to the key of that entity's previous delivery (`nat-…`, see the receiver's
 * enqueuer), since a body is a snapshot and X → Y → X are three states; for the one event about no
 * entity, it is the hash of the event type and the exact bytes (`body-…`).
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
  return `body-${contentHash(eventType, rawBody)}`;
}

/** A value safe inside a Redis key (no `:`), bounded in length: ids as they are, others hashed. */
export function keySafe(value: string): string {
  return SAFE_DELIVERY_ID.test(value) ? value : `h-${sha256(value)}`;
}
