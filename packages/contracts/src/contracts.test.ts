import { describe, expect, it } from 'vitest';
import {
  currentCustomer,
  customerEvent,
  docsCustomerCreatedAsPrinted,
  docsCustomerCreatedCorrected,
  FAMILY_FIXTURES,
  legacyCustomer,
} from './fixtures/index.js';
import {
  EVENT_CATALOG,
  EVENT_SCHEMAS,
  EVENT_TYPES,
  FAMILIES,
  type Family,
  isLegacyCustomer,
  parseWebhookEvent,
  resolveEventType,
  routeOf,
} from './index.js';

describe('event catalog', () => {
  it('lists the 57 names Flexprice sends, each with a schema and a queue', () => {
    expect(EVENT_TYPES).toHaveLength(57);
    expect(Object.keys(EVENT_SCHEMAS).sort()).toEqual([...EVENT_TYPES].sort());
    expect(FAMILIES).toHaveLength(13);
    for (const type of EVENT_TYPES) {
      expect(routeOf(type).queue).toMatch(/^flexprice\.[a-z_]+$/);
    }
  });

  it('routes by family, with the family key Flexprice uses', () => {
    expect(routeOf('customer.created')).toEqual({ family: 'customer', queue: 'flexprice.customer' });
    expect(routeOf('wallet.transaction.updated').queue).toBe('flexprice.wallet');
    expect(EVENT_CATALOG['wallet.transaction.updated'].key).toBe('updated_transaction');
    expect(EVENT_CATALOG['wallet.transaction.created'].key).toBe('transaction');
    expect(EVENT_CATALOG['entitlement.grant.exhausted'].key).toBeNull();
    expect(routeOf('subscription.group_spend.threshold_recovered').queue).toBe('flexprice.spend_alert');
  });
});

describe('fixtures', () => {
  const cases = Object.entries(FAMILY_FIXTURES).flatMap(([family, bodies]) =>
    bodies.map((body, index) => ({ family: family as Family, body, index })),
  );

  it.each(cases)('$family fixture #$index parses as an event of its family', ({ family, body }) => {
    const result = parseWebhookEvent(body);
    expect(result.ok ? [] : result.issues).toEqual([]);
    if (result.ok) expect(EVENT_CATALOG[result.eventType].family).toBe(family);
  });

  it('covers every family', () => {
    expect(Object.keys(FAMILY_FIXTURES).sort()).toEqual([...FAMILIES].sort());
  });
});

/** Deletes `field` from the object at `key` of `body` and returns the issues of parsing the result. */
function issuesWithout(body: Record<string, unknown>, key: string | null, field: string) {
  const copy = structuredClone(body);
  const target = key === null ? copy : (copy[key] as Record<string, unknown>);
  delete target[field];
  const result = parseWebhookEvent(copy);
  return result.ok ? [] : result.issues;
}

/** Every field whose absence fails validation, with the paths reported. */
function requiredFieldsOf(body: Record<string, unknown>, key: string | null) {
  const entity = (key === null ? body : body[key]) as Record<string, unknown>;
  const required: Record<string, string[]> = {};
  for (const field of Object.keys(entity)) {
    if (key === null && field === 'event_type') continue;
    const issues = issuesWithout(body, key, field);
    if (issues.length > 0) required[field] = issues.map((issue) => issue.path);
  }
  return required;
}

describe('required fields are reported with their path when absent', () => {
  const at = (key: string | null, fields: string[]) =>
    Object.fromEntries(fields.map((field) => [field, [key === null ? field : `${key}.${field}`]]));

  it('current customer (≥ v2.1.24)', () => {
    expect(requiredFieldsOf(customerEvent('customer.created', currentCustomer()), 'customer')).toEqual(
      at('customer', ['id', 'external_id', 'environment_id', 'name']),
    );
  });

  it('legacy customer (≤ v2.1.23): every always-present field', () => {
    expect(requiredFieldsOf(customerEvent('customer.created', legacyCustomer()), 'customer')).toEqual(
      at('customer', [
        'id',
        'external_id',
        'name',
        'email',
        'address_line1',
        'address_line2',
        'address_city',
        'address_state',
        'address_postal_code',
        'address_country',
        'metadata',
        'environment_id',
        'tenant_id',
        'status',
        'created_at',
        'updated_at',
        'created_by',
        'updated_by',
      ]),
    );
  });

  const identifying: Record<string, { key: string | null; fields: string[] }> = {
    'subscription.updated': { key: 'subscription', fields: ['id', 'customer_id', 'plan_id', 'subscription_status'] },
    'subscription.phase.created': { key: 'phase', fields: ['id', 'subscription_id', 'start_date'] },
    'feature.created': { key: 'feature', fields: ['id', 'name', 'lookup_key', 'type'] },
    'feature.wallet_balance.alert': { key: null, fields: ['alert_type', 'alert_status'] },
    'entitlement.created': { key: 'entitlement', fields: ['id', 'entity_type', 'entity_id', 'feature_id'] },
    'wallet.created': { key: 'wallet', fields: ['id', 'customer_id', 'wallet_status', 'currency'] },
    'wallet.transaction.created': {
      key: 'transaction',
      fields: ['id', 'wallet_id', 'type', 'transaction_status', 'amount'],
    },
    'wallet.transaction.updated': {
      key: 'updated_transaction',
      fields: ['id', 'wallet_id', 'type', 'transaction_status', 'amount'],
    },
    'wallet.credit_balance.dropped': { key: 'wallet', fields: ['id', 'customer_id', 'wallet_status', 'currency'] },
    'subscription.spend.threshold_recovered': {
      key: null,
      fields: ['subscription', 'alert_type', 'alert_status', 'current_spend', 'triggered_at'],
    },
    'payment.success': {
      key: 'payment',
      fields: ['id', 'payment_status', 'destination_type', 'destination_id', 'amount', 'currency'],
    },
    'invoice.update.finalized': {
      key: 'invoice',
      fields: ['id', 'customer_id', 'environment_id', 'invoice_status', 'payment_status'],
    },
    'credit_note.created': {
      key: 'credit_note',
      fields: ['id', 'invoice_id', 'customer_id', 'credit_note_status', 'credit_note_type', 'total_amount', 'currency'],
    },
    'checkout.session.completed': { key: 'checkout_session', fields: ['id', 'customer_id', 'checkout_status'] },
    'event.rejected': { key: null, fields: ['reason', 'event'] },
  };
  const bodies = Object.values(FAMILY_FIXTURES).flat();

  it.each(Object.entries(identifying))('%s', (eventType, { key, fields }) => {
    const body = bodies.find((candidate) => candidate.event_type === eventType);
    expect(body).toBeDefined();
    if (body) expect(requiredFieldsOf(body, key)).toEqual(at(key, fields));
  });

  it('a natively delivered grant alert (no event_type)', () => {
    const body = FAMILY_FIXTURES.entitlement[1];
    expect(body && requiredFieldsOf(body, null)).toEqual({
      ...at(null, ['subscription_id', 'customer_id', 'entitlement_id', 'alert_type', 'usage_ratio', 'triggered_at']),
      // Without these two the body no longer says which event it is.
      alert_status: ['event_type'],
      entitlement_grant_id: ['event_type'],
    });
  });
});

describe('customer generations', () => {
  it('tells the generations apart', () => {
    const current = parseWebhookEvent(customerEvent('customer.created', currentCustomer()));
    const legacy = parseWebhookEvent(customerEvent('customer.created', legacyCustomer()));
    expect(
      current.ok && current.event.event_type === 'customer.created' && isLegacyCustomer(current.event.customer),
    ).toBe(false);
    expect(legacy.ok && legacy.event.event_type === 'customer.created' && isLegacyCustomer(legacy.event.customer)).toBe(
      true,
    );
  });

  it('keeps unknown keys, at the top and in the customer', () => {
    const result = parseWebhookEvent({
      ...customerEvent('customer.created', currentCustomer({ loyalty_tier: 'gold' })),
      delivered_by: 'flexprice-v3',
    });
    expect(result.ok && result.event).toMatchObject({
      delivered_by: 'flexprice-v3',
      customer: { loyalty_tier: 'gold' },
    });
  });

  it.each([
    ['an empty id', { id: '' }, 'customer.id'],
    ['an empty external id', { external_id: '' }, 'customer.external_id'],
    ['an empty name', { name: '' }, 'customer.name'],
    ['a numeric name', { name: 42 }, 'customer.name'],
    ['metadata values that are not strings', { metadata: { tier: 1 } }, 'customer.metadata.tier'],
  ])('rejects %s in the current shape', (_, overrides, path) => {
    const result = parseWebhookEvent(customerEvent('customer.created', currentCustomer(overrides)));
    expect(result.ok ? [] : result.issues.map((issue) => issue.path)).toEqual([path]);
  });

  it.each([
    ['null metadata', { metadata: null }, []],
    ['an unknown status', { status: 'gone' }, ['customer.status']],
    ['a created_at that is not RFC 3339', { created_at: '20/06/2026' }, ['customer.created_at']],
    ['an empty external id', { external_id: '' }, ['customer.external_id']],
    [
      'an integration without provider_type',
      {
        integrations: [
          {
            id: 'eim_1',
            entity_id: 'cust_1',
            entity_type: 'customer',
            provider_entity_id: 'cus_stripe_1',
            environment_id: 'env_1',
            tenant_id: 'tenant_1',
            status: 'published',
            created_at: '2026-06-01T09:30:00Z',
            updated_at: '2026-06-01T09:30:00Z',
            created_by: '',
            updated_by: '',
          },
        ],
      },
      ['customer.integrations.0.provider_type'],
    ],
  ])('legacy shape with %s', (_, overrides, paths) => {
    const result = parseWebhookEvent(customerEvent('customer.updated', legacyCustomer(overrides)));
    expect(result.ok ? [] : result.issues.map((issue) => issue.path)).toEqual(paths);
  });

  it('reports a current customer carrying one legacy-only key as such', () => {
    const result = parseWebhookEvent(customerEvent('customer.created', currentCustomer({ tenant_id: 'tenant_1' })));
    expect(result.ok ? [] : result.issues).toEqual([
      { path: 'customer.tenant_id', message: 'is not part of the current (≥ v2.1.24) customer shape' },
    ]);
  });
});

describe('the documented customer.created example (docs/flexprice-payloads.md §7)', () => {
  it('as printed, claims subscription.created and is not a valid one', () => {
    const body = docsCustomerCreatedAsPrinted();
    expect(resolveEventType(body)).toMatchObject({ ok: true, known: true, eventType: 'subscription.created' });
    const result = parseWebhookEvent(body);
    expect(result.ok ? [] : result.issues.map((issue) => issue.path)).toEqual(['subscription']);
  });

  it('corrected to customer.created, parses as a legacy customer', () => {
    const result = parseWebhookEvent(docsCustomerCreatedCorrected());
    expect(result.ok).toBe(true);
    expect(result.ok && result.event.event_type === 'customer.created' && isLegacyCustomer(result.event.customer)).toBe(
      true,
    );
  });
});

describe('resolveEventType', () => {
  it.each([
    ['a non-object body', [1, 2], ''],
    ['a missing event_type on a non-alert body', { customer: currentCustomer() }, 'event_type'],
    ['an event_type that is not a string', { event_type: 7 }, 'event_type'],
    ['an empty event_type', { event_type: '' }, 'event_type'],
  ])('rejects %s', (_, body, path) => {
    const result = resolveEventType(body);
    expect(result.ok ? [] : result.issues.map((issue) => issue.path)).toEqual([path]);
  });

  it('reports unknown names as unknown, not invalid', () => {
    expect(resolveEventType({ event_type: 'refund.created' })).toEqual({
      ok: true,
      known: false,
      eventType: 'refund.created',
    });
  });

  it.each([
    [{ subscription: {}, alert_status: 'in_alarm' }, 'subscription.spend.threshold_reached'],
    [{ subscription: {}, alert_status: 'ok' }, 'subscription.spend.threshold_recovered'],
    [
      { subscription: {}, subscription_line_item_id: 'x', alert_status: 'warning' },
      'subscription.line_item_spend.threshold_reached',
    ],
    [{ subscription: {}, group_id: 'g', alert_status: 'ok' }, 'subscription.group_spend.threshold_recovered'],
    [{ entitlement_grant_id: 'g', alert_status: 'in_alarm' }, 'entitlement.grant.exhausted'],
  ])('infers natively delivered alert %j as %s', (body, eventType) => {
    expect(resolveEventType(body)).toEqual({ ok: true, known: true, eventType, inferred: true });
  });
});

describe('money stays a string', () => {
  it('rejects a numeric amount', () => {
    const payment = FAMILY_FIXTURES.payment[0];
    const body = { ...payment, payment: { ...(payment?.payment as object), amount: 100 } };
    const result = parseWebhookEvent(body);
    expect(result.ok ? [] : result.issues.map((issue) => issue.path)).toEqual(['payment.amount']);
  });
});
