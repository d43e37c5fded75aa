/**
 * @flexprice/contracts: what Flexprice sends and what we queue, shared by the receiver and the worker.
 *
 * Depends on zod alone (and Node's crypto for the idempotency hash). Follows how Flexprice really
 * delivers (docs/flexprice-payloads.md), not the marketing docs: 57 event names, two customer
 * payload generations, no event id in the body, alerts without `event_type` in native mode.
 */
export * from './api-entities.js';
export * from './deployment-config.js';
export * from './entities.js';
export * from './event-types.js';
export * from './events.js';
export * from './idempotency.js';
export * from './jobs.js';
export * from './parse.js';
export * from './routing.js';
export * from './schemas/common.js';
export * from './schemas/customer.js';
export * from './schemas/families.js';
export * from './shards.js';
export * from './versions.js';
