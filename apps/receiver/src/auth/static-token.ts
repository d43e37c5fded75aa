import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Self-hosted Flexprice signs nothing; its only credential is a static header the operator
 * configures (`webhook.tenants.<id>.headers`). Compared in constant time: both sides are hashed
 * first, so neither the content nor the length of the token leaks through timing.
 */
export function createStaticTokenCheck(header: { name: string; token: string }) {
  const name = header.name.toLowerCase();
  const expected = digest(header.token);
  return function checkStaticToken(headers: IncomingHttpHeaders): boolean {
    const value = headers[name];
    if (typeof value !== 'string') return false;
    return timingSafeEqual(digest(value), expected);
  };
}
