import { apiStateVersion, type CustomerEvent, parseEventAs, provisionalDeletionVersion } from '@flexprice/contracts';
import type { DtoCustomerResponse } from '@flexprice/sdk/sdk/models';
import { UnrecoverableError } from 'bullmq';

/**
 * A customer as the API returned it (the SDK's camelCase, empty fields left out), in the shape a
 * legacy webhook carries it (`dto.CustomerResponse`, snake_case, every string present): what the
 * store keeps and the forward sends, whichever way the state came.
 */
export function toWebhookCustomer(customer: DtoCustomerResponse): Record<string, unknown> {
  return {
    id: customer.id ?? '',
    external_id: customer.externalId ?? '',
    name: customer.name ?? '',
    email: customer.email ?? '',
    address_line1: customer.addressLine1 ?? '',
    address_line2: customer.addressLine2 ?? '',
    address_city: customer.addressCity ?? '',
    address_state: customer.addressState ?? '',
    address_postal_code: customer.addressPostalCode ?? '',
    address_country: customer.addressCountry ?? '',
    metadata: customer.metadata ?? null,
    environment_id: customer.environmentId ?? '',
    tenant_id: customer.tenantId ?? '',
    status: customer.status ?? 'published',
    created_at: customer.createdAt ?? '',
    updated_at: customer.updatedAt ?? '',
    created_by: customer.createdBy ?? '',
    updated_by: customer.updatedBy ?? '',
    ...(customer.parentCustomerId !== undefined && { parent_customer_id: customer.parentCustomerId }),
  };
}

/** A customer's state as the store applies it: the event it is forwarded as, and its version. */
export interface CustomerState {
  event: CustomerEvent;
  version: string;
  /** A later job of the same delivery id takes this one's version (webhook states of Svix). */
  pinToDelivery: boolean;
  /** A deletion that rests on a 404 alone (`provisionalTombstone`). */
  provisional?: boolean;
  source: 'webhook' | 'api' | 'sync';
}

function validated(event: Record<string, unknown>): CustomerEvent {
  const parsed = parseEventAs(event.event_type as CustomerEvent['event_type'], event);
  if (!parsed.ok) {
    const detail = parsed.issues.map((i) => `${i.path}: ${i.message}`).join('; ');
    throw new UnrecoverableError(`Flexprice's API answered a customer that is not one: ${detail}`);
  }
  return parsed.event as CustomerEvent;
}

/**
 * The state to store for a customer the API answered about. Archived (Flexprice's soft delete) or
 * deleted: a tombstone, forwarded as `customer.deleted`. Live: its state, forwarded under the event
 * type of the job that asked (`customer.updated` if that was a deletion the API does not show).
 */
export function stateFromApi(
  customer: DtoCustomerResponse,
  eventType: CustomerEvent['event_type'],
  source: 'api' | 'sync',
): CustomerState {
  const deleted = customer.status === 'archived' || customer.status === 'deleted';
  const version = apiStateVersion({ deleted, updatedAt: customer.updatedAt ?? '' });
  if (version === undefined) {
    throw new UnrecoverableError(`Flexprice's API answered customer ${customer.id} without a readable updated_at`);
  }
  const type = deleted ? 'customer.deleted' : eventType === 'customer.deleted' ? 'customer.updated' : eventType;
  return {
    event: validated({ event_type: type, customer: toWebhookCustomer(customer) }),
    version,
    pinToDelivery: false,
    source,
  };
}

/**
 * The tombstone of a customer the API does not have (a 404, confirmed by a second read): the
 * webhook's own body, as a provisional deletion (`provisionalDeletionVersion`), ordered after
 * `lastVersion` (the stored one), so a later live state from the API supersedes it.
 */
export function provisionalTombstone(event: CustomerEvent, lastVersion: string | undefined): CustomerState {
  return {
    event: { ...event, event_type: 'customer.deleted' },
    version: provisionalDeletionVersion(lastVersion),
    pinToDelivery: false,
    provisional: true,
    source: 'api',
  };
}
