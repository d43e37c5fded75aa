import { createLogger as createServiceLogger } from '@flexprice/runtime';
import type { Logger } from 'pino';

/**
 * Job logs carry ids, event types and outcomes, never payloads: customer names, emails and
 * addresses are personal data. The runtime's one redaction policy is a second line of defence.
 */
export function createLogger(level: string, name = 'worker'): Logger {
  return createServiceLogger(name, { level });
}
