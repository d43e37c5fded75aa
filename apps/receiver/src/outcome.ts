/**
 * What the request log line and the metrics say about a webhook, beyond the HTTP basics. A leaf
 * module: the handler decides it, the logger and the metrics report it.
 */
export interface WebhookOutcome {
  outcome:
    | 'queued'
    | 'duplicate'
    | 'ignored'
    | 'unauthorized'
    | 'invalid'
    | 'too_large'
    | 'too_slow'
    | 'overloaded'
    | 'unavailable'
    | 'error';
  eventType?: string;
  deliveryId?: string;
  idempotencyKey?: string;
  jobId?: string;
  reason?: string;
}
