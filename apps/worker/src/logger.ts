import { type Logger, pino } from 'pino';

/**
 * Job logs carry ids, event types and outcomes, never payloads: customer names, emails and
 * addresses are personal data. The redaction is a second line of defence for a stray object.
 */
export function createLogger(level: string, name = 'worker'): Logger {
  return pino({
    level,
    base: { service: name },
    redact: {
      paths: [
        '*.secret',
        '*.token',
        '*.email',
        '*.address_line1',
        '*.address_line2',
        '*.address_city',
        '*.address_postal_code',
        'customer',
        '*.customer',
      ],
      censor: '[redacted]',
    },
  });
}
