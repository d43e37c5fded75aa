import { z } from 'zod';
import { absent, baseStatus, metadata, nonEmpty, timestamp } from './common.js';

const optionalText = z.string().optional();

/**
 * Current shape, Flexprice v2.1.24 and later (`webhookDto.Customer`): trimmed, empty fields omitted,
 * no tenant, status or timestamps. Unknown keys are kept so a newer Flexprice does not break us.
 */
export const customerCurrentSchema = z.looseObject({
  id: nonEmpty,
  external_id: nonEmpty,
  environment_id: nonEmpty,
  name: nonEmpty,
  email: optionalText,
  address_line1: optionalText,
  address_line2: optionalText,
  address_city: optionalText,
  address_state: optionalText,
  address_postal_code: optionalText,
  address_country: optionalText,
  timezone: optionalText,
  metadata: metadata.optional(),
  tenant_id: absent('current (≥ v2.1.24) customer'),
  status: absent('current (≥ v2.1.24) customer'),
  created_at: absent('current (≥ v2.1.24) customer'),
  updated_at: absent('current (≥ v2.1.24) customer'),
  created_by: absent('current (≥ v2.1.24) customer'),
  updated_by: absent('current (≥ v2.1.24) customer'),
});
export type CustomerCurrent = z.infer<typeof customerCurrentSchema>;

/** An integration mapping: documented, never filled by the webhook builder, modelled for completeness. */
export const customerIntegrationSchema = z.looseObject({
  id: nonEmpty,
  entity_id: nonEmpty,
  entity_type: z.enum([
    'customer',
    'plan',
    'invoice',
    'subscription',
    'payment',
    'credit_note',
    'addon',
    'item',
    'item_price',
    'price',
    'invoice_line_item',
  ]),
  provider_type: nonEmpty,
  provider_entity_id: nonEmpty,
  environment_id: z.string(),
  tenant_id: z.string(),
  status: baseStatus,
  metadata: z.record(z.string(), z.unknown()).optional(),
  created_at: timestamp,
  updated_at: timestamp,
  created_by: z.string(),
  updated_by: z.string(),
});
export type CustomerIntegration = z.infer<typeof customerIntegrationSchema>;

/**
 * Legacy shape, Flexprice up to v2.1.23 (`dto.CustomerResponse`): the full API object. Empty strings
 * are sent (not omitted), `metadata` may be null, and `BaseModel` adds tenant, status and timestamps.
 */
export const customerLegacySchema = z.looseObject({
  id: nonEmpty,
  external_id: nonEmpty,
  name: nonEmpty,
  email: z.string(),
  contact: optionalText,
  address_line1: z.string(),
  address_line2: z.string(),
  address_city: z.string(),
  address_state: z.string(),
  address_postal_code: z.string(),
  address_country: z.string(),
  // Only from v2.1.21 (v2.0.21 on the 2.0 line).
  timezone: optionalText,
  metadata: metadata.nullable(),
  environment_id: nonEmpty,
  parent_customer_id: z.string().nullable().optional(),
  tenant_id: nonEmpty,
  status: baseStatus,
  created_at: timestamp,
  updated_at: timestamp,
  created_by: z.string(),
  updated_by: z.string(),
  integrations: z.array(customerIntegrationSchema).optional(),
});
export type CustomerLegacy = z.infer<typeof customerLegacySchema>;

/**
 * Either generation. The two are mutually exclusive (the current one forbids the legacy-only keys),
 * so exactly one branch can match; `formatIssues` reports the branch that came closest.
 */
export const customerSchema = z.union([customerCurrentSchema, customerLegacySchema]);
export type Customer = z.infer<typeof customerSchema>;

export function isLegacyCustomer(customer: Customer): customer is CustomerLegacy {
  return typeof customer.tenant_id === 'string';
}
