import type { z } from 'zod';
import { type EventType, isEventType } from './event-types.js';
import { EVENT_SCHEMAS, type WebhookEvent } from './events.js';

/** One problem with a payload: where (`customer.external_id`, `""` for the body) and what. */
export interface Issue {
  path: string;
  message: string;
}

export type EventTypeResult =
  | { ok: true; known: true; eventType: EventType; inferred: boolean }
  | { ok: true; known: false; eventType: string }
  | { ok: false; issues: Issue[] };

export type ParseResult<E = WebhookEvent> =
  | { ok: true; eventType: EventType; event: E }
  | { ok: false; issues: Issue[] };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Spend and entitlement-grant alerts delivered natively carry no `event_type` anywhere
 * (`internal/webhook/payload/alert.go`); the name follows from the body's shape and `alert_status`.
 */
function inferAlertEventType(body: Record<string, unknown>): EventType | undefined {
  if (typeof body.alert_status !== 'string') return undefined;
  const outcome = body.alert_status === 'ok' ? 'threshold_recovered' : 'threshold_reached';
  if (body.entitlement_grant_id !== undefined) return 'entitlement.grant.exhausted';
  if (!isPlainObject(body.subscription)) return undefined;
  if (body.subscription_line_item_id !== undefined) return `subscription.line_item_spend.${outcome}`;
  if (body.group_id !== undefined) return `subscription.group_spend.${outcome}`;
  return `subscription.spend.${outcome}`;
}

/**
 * Reads the event type of a parsed JSON body without validating the rest, so a receiver can ignore
 * what it does not route before paying for validation. An `event_type` that is present but not a
 * non-empty string is invalid, not unknown.
 */
export function resolveEventType(body: unknown): EventTypeResult {
  if (!isPlainObject(body)) {
    return { ok: false, issues: [{ path: '', message: 'the body must be a JSON object' }] };
  }
  const declared = body.event_type;
  if (declared === undefined) {
    const inferred = inferAlertEventType(body);
    if (inferred !== undefined) return { ok: true, known: true, eventType: inferred, inferred: true };
    return { ok: false, issues: [{ path: 'event_type', message: 'is required' }] };
  }
  if (typeof declared !== 'string' || declared.length === 0) {
    return { ok: false, issues: [{ path: 'event_type', message: 'must be a non-empty string' }] };
  }
  if (isEventType(declared)) return { ok: true, known: true, eventType: declared, inferred: false };
  return { ok: true, known: false, eventType: declared };
}

/** Validates a body against the schema of a known event type. */
export function parseEventAs(eventType: EventType, body: unknown): ParseResult {
  const result = EVENT_SCHEMAS[eventType].safeParse(body);
  if (result.success) return { ok: true, eventType, event: result.data };
  return { ok: false, issues: formatIssues(result.error.issues) };
}

/** Resolves the event type and validates the body in one go. Unknown types are reported as issues. */
export function parseWebhookEvent(body: unknown): ParseResult {
  const type = resolveEventType(body);
  if (!type.ok) return type;
  if (!type.known) {
    return { ok: false, issues: [{ path: 'event_type', message: `unknown event type "${type.eventType}"` }] };
  }
  return parseEventAs(type.eventType, body);
}

type ZodIssue = z.core.$ZodIssue;

/**
 * Flattens zod issues into `{path, message}`. For a union that failed (the two customer
 * generations), only the branch that came closest is reported: its issues are the useful ones.
 */
export function formatIssues(issues: readonly ZodIssue[], prefix: readonly PropertyKey[] = []): Issue[] {
  const out: Issue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const closest = issue.errors.reduce((best, branch) => (branch.length < best.length ? branch : best));
      out.push(...formatIssues(closest, path));
      continue;
    }
    out.push({ path: path.map(String).join('.'), message: issue.message });
  }
  return out;
}
