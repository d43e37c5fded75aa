import { describe, expect, it } from 'vitest';
import { FAMILY_FIXTURES } from './fixtures/index.js';
import { MAX_BACKOFF_MS, parseWebhookJob, shortestRetrySpanMs, webhookBackoffDelay } from './jobs.js';

describe('webhookBackoffDelay', () => {
  it('doubles from the base delay, jittered down by at most half', () => {
    expect([1, 2, 3, 4].map((attempt) => webhookBackoffDelay(attempt, 1000, undefined, () => 1))).toEqual([
      1000, 2000, 4000, 8000,
    ]);
    expect(webhookBackoffDelay(3, 1000, undefined, () => 0)).toBe(2000);
  });

  it('waits at least as long as Retry-After asked, and never more than an hour', () => {
    expect(webhookBackoffDelay(1, 1000, 30_000, () => 1)).toBe(30_000);
    expect(webhookBackoffDelay(40, 1000, undefined, () => 1)).toBe(MAX_BACKOFF_MS);
    expect(webhookBackoffDelay(1, 1000, 10 * MAX_BACKOFF_MS, () => 1)).toBe(MAX_BACKOFF_MS);
  });
});

describe('shortestRetrySpanMs', () => {
  it('adds the jitter-low delays between the tries: none for one try', () => {
    expect(shortestRetrySpanMs(1, 1000)).toBe(0);
    expect(shortestRetrySpanMs(2, 1000)).toBe(500);
    // 500 + 1000 + 2000 + … + 128000 (the defaults: 10 tries, 1 s)
    expect(shortestRetrySpanMs(10, 1000)).toBe(255_500);
    expect(shortestRetrySpanMs(10, 0)).toBe(0);
  });
});

describe('parseWebhookJob', () => {
  const receipt = {
    receivedAt: '2026-11-26T10:00:00.000Z',
    deliveryId: 'msg_1',
    idempotencyKey: 'id-msg_1',
    requestId: 'req-1',
    inferredEventType: false,
  };

  it('validates the job and the event inside it again', () => {
    const event = FAMILY_FIXTURES.customer[0];
    const parsed = parseWebhookJob({ eventType: 'customer.created', event, receipt });
    expect(parsed.ok).toBe(true);
  });

  it('reports what is wrong, under event.* for the event', () => {
    const parsed = parseWebhookJob({
      eventType: 'customer.created',
      event: { event_type: 'customer.created', customer: { id: '' } },
      receipt: { ...receipt, idempotencyKey: '' },
    });
    expect(parsed.ok ? [] : parsed.issues.map((issue) => issue.path)).toEqual(['receipt.idempotencyKey']);
    const badEvent = parseWebhookJob({
      eventType: 'customer.created',
      event: { event_type: 'customer.created', customer: { id: 'c', external_id: 'e', name: 'n' } },
      receipt,
    });
    expect(badEvent.ok ? [] : badEvent.issues.map((issue) => issue.path)).toEqual(['event.customer.environment_id']);
    const notAnObject = parseWebhookJob({ eventType: 'customer.created', event: ['customer.created'], receipt });
    expect(notAnObject.ok ? [] : notAnObject.issues).toEqual([{ path: 'event', message: 'must be a JSON object' }]);
  });
});
