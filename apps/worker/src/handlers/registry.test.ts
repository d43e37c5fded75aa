import { BUILT_IN_HANDLERS, parseForwardRoutes } from '@flexprice/contracts';
import { TEST_SECRET } from '@flexprice/testing';
import { describe, expect, it } from 'vitest';
import type { Keeper } from '../entities/keepers.js';
import type { ApiPipeline } from '../entities/pipeline.js';
import type { EntityMarks } from '../ordering/entity-marks.js';
import { createForwardTargets } from '../outbound/forward-targets.js';
import { consumedFamilies, createHandlers } from './registry.js';

// The store and marks are never called here: only which event types get a handler is looked at.
const deps = { customers: {} as Keeper, marks: {} as EntityMarks };

describe('the handler registry', () => {
  it('handles without a route exactly the types contracts call built in (what the receivers rely on)', () => {
    const handled = Object.keys(createHandlers({ ...deps, routes: [] })).sort();
    expect(handled).toEqual([...BUILT_IN_HANDLERS].sort());
  });

  it('gives every routed type a handler, and consumes the built-in families whatever is queued', () => {
    const parsed = parseForwardRoutes('invoice.*=https://billing.internal/ wallet.created=https://w.internal/');
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    const targets = createForwardTargets(parsed.routes, { secrets: [TEST_SECRET], timeoutMs: 1000 });
    const handled = Object.keys(createHandlers({ ...deps, routes: targets.routes }));
    expect(handled).toHaveLength(3 + 6 + 1);
    expect(handled).toContain('wallet.created');
    expect(handled).not.toContain('wallet.updated');
    expect(consumedFamilies(['invoice.update', 'wallet.created'])).toEqual(['customer', 'invoice', 'wallet']);
  });

  it('with an API key, reads the API for every API-backed type a route takes, and forwards the rest from the body', () => {
    const parsed = parseForwardRoutes('invoice.*=https://billing.internal/ wallet.*=https://w.internal/');
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    const targets = createForwardTargets(parsed.routes, { secrets: [TEST_SECRET], timeoutMs: 1000 });
    const readers: string[] = [];
    const api = {
      handler: (family: string) => {
        readers.push(family);
        return Object.assign(async () => ({ outcome: 'applied' }), { family });
      },
    } as unknown as ApiPipeline;
    const handlers = createHandlers({ ...deps, routes: targets.routes, api }) as Record<string, { family?: string }>;
    // One reader per family and route; the customer's too.
    expect(readers.sort()).toEqual(['customer', 'invoice', 'wallet']);
    expect(handlers['invoice.update.finalized']?.family).toBe('invoice');
    expect(handlers['wallet.created']?.family).toBe('wallet');
    // Announcements read the API too (their entity's current state); a wallet's transactions go
    // out from their body.
    expect(handlers['invoice.communication.triggered']?.family).toBe('invoice');
    expect(handlers['invoice.payment.overdue']?.family).toBe('invoice');
    expect(handlers['wallet.transaction.created']?.family).toBeUndefined();
  });
});
