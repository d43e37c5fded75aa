import { describe, expect, it } from 'vitest';
import {
  configHash,
  configMismatches,
  describeConfig,
  type RecordedConfig,
  recordedConfigSchema,
  type WorkerSettings,
} from './deployment-config.js';
import { EVENT_TYPES } from './event-types.js';

const typesOf = (prefix: string) => EVENT_TYPES.filter((type) => type.startsWith(prefix));
const CUSTOMER = typesOf('customer.');
const INVOICE = typesOf('invoice.');

function receiver(instance: string, enqueues: readonly string[]): RecordedConfig {
  return {
    ...describeConfig({
      role: 'receiver',
      instance,
      version: '0.1.0',
      queue: { prefix: 'bull' },
      enqueues,
      routes: [],
    }),
    at: 0,
  };
}

const customersOnly: WorkerSettings = { handles: CUSTOMER, consumes: ['customer'] };

describe('the recorded configuration', () => {
  it('hashes what the two sides must agree on, in any order', () => {
    const base = { queue: { prefix: 'bull' }, enqueues: ['customer.created', 'invoice.update.finalized'], routes: [] };
    expect(configHash(base)).toBe(configHash({ ...base, enqueues: [...base.enqueues].reverse() }));
    expect(configHash(base)).not.toBe(configHash({ ...base, enqueues: ['customer.created'] }));
    expect(configHash(base)).not.toBe(configHash({ ...base, queue: { prefix: '{flexprice}' } }));
  });

  it('records routes by pattern and claims, never their URLs', () => {
    const described = describeConfig({
      role: 'worker',
      instance: 'w1',
      version: '0.1.0',
      queue: { prefix: 'bull' },
      enqueues: INVOICE,
      routes: [{ pattern: 'invoice.*', url: 'https://billing.internal/hooks?token=s3cret', claims: INVOICE } as never],
      handles: INVOICE,
      consumes: ['invoice'],
    });
    expect(described.routes).toEqual([{ pattern: 'invoice.*', claims: INVOICE }]);
    expect(JSON.stringify(described)).not.toContain('s3cret');
  });

  it('reads records of other versions: unknown fields ignored, a newer queue setting kept', () => {
    const parsed = recordedConfigSchema.parse({
      ...receiver('r1', CUSTOMER),
      future: true,
      queue: { prefix: 'bull', shards: 4 },
    });
    expect(parsed).not.toHaveProperty('future');
    expect(parsed.queue).toEqual({ prefix: 'bull', shards: 4 });
  });
});

describe('configMismatches', () => {
  it('finds nothing when the worker handles every type the live receivers queue, or when none is live', () => {
    expect(configMismatches(customersOnly, [receiver('r1', CUSTOMER), receiver('r2', ['customer.created'])])).toEqual(
      [],
    );
    expect(configMismatches(customersOnly, [])).toEqual([]);
  });

  it('names the types a receiver queues that this worker does not consume: their jobs would wait', () => {
    const [problem, ...others] = configMismatches(customersOnly, [
      receiver('r1', CUSTOMER),
      receiver('r2', [...CUSTOMER, ...INVOICE]),
    ]);
    expect(others).toEqual([]);
    expect(problem).toBe(
      '1 of 2 live receivers (r2) queue invoice.update.finalized, invoice.update.payment, invoice.update.voided, invoice.update, ' +
        'invoice.payment.overdue, invoice.communication.triggered, which this worker has no handler for; ' +
        'it does not consume invoice, whose jobs wait for a worker that does: ' +
        'give the receivers and the workers the same ENQUEUE_EVENTS and FORWARD_ROUTES',
    );
  });

  it('says which types it would fail for good: a family it consumes, without their handler', () => {
    const partly: WorkerSettings = {
      handles: [...CUSTOMER, 'invoice.update.finalized'],
      consumes: ['customer', 'invoice'],
    };
    const [problem] = configMismatches(partly, [receiver('r1', ['invoice.update.finalized', 'invoice.update.voided'])]);
    expect(problem).toContain(
      'queue invoice.update.voided, which this worker has no handler for; it would fail invoice.update.voided for good',
    );
  });

  it('names types a newer receiver queues that this version does not know', () => {
    const [problem] = configMismatches(customersOnly, [receiver('r1', ['customer.created', 'invoice.brand_new'])]);
    expect(problem).toContain(
      'queue invoice.brand_new, which this worker has no handler for; invoice.brand_new are unknown to this version',
    );
  });

  it('names receivers that queue with a shard count whose queues this worker does not drain', () => {
    const sharded = (instance: string, shards?: number) => ({
      ...receiver(instance, CUSTOMER),
      queue: shards === undefined ? { prefix: 'bull' } : { prefix: 'bull', shards },
    });
    const drains = (counts: number[]): WorkerSettings => ({ ...customersOnly, drains: counts });
    // A record without shards is a version before them: one queue per family.
    expect(configMismatches(drains([1, 3]), [sharded('r1', 3), sharded('r2')])).toEqual([]);
    expect(configMismatches(drains([1]), [sharded('r1', 1), sharded('r2', 4), sharded('r3', 4)])).toEqual([
      '2 of 3 live receivers (r2, r3) queue with QUEUE_SHARDS=4, whose queues this worker does not drain ' +
        '(it drains 1): give every app the same QUEUE_SHARDS',
    ]);
    // A worker that does not say what it drains is not judged on it.
    expect(configMismatches(customersOnly, [sharded('r1', 4)])).toEqual([]);
  });
});
