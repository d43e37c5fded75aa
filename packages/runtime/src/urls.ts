import { z } from 'zod';

/**
 * URLs in logs, failure reasons and config errors. A URL may carry credentials: `user:password@`,
 * or a token in its query. Everything that prints a URL prints `redactUrl(url)`: scheme, host, port
 * and path, never the rest. `fetch` refuses a URL with `user:password@` and quotes it whole in its
 * error, which became the job's failure reason (shown by the dashboard and `pnpm dlq list`).
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    // (`origin` is "null" for schemes such as redis:, hence host by hand.)
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return '(unparseable URL)';
  }
}

/** Anything that looks like a URL inside a text, e.g. `scheme://…` up to a space or a quote. */
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi;

/**
 * A free text (an error message from a library) with every URL in it redacted: a message this code
 * did not write may quote the URL it failed on.
 */
export function redactUrlsIn(text: string): string {
  return text.replace(URL_IN_TEXT, (url) => (redactUrl(url) === '(unparseable URL)' ? '(a URL)' : redactUrl(url)));
}

/** Whether a URL carries `user:password@` (or just `user@`). */
export function hasUserinfo(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.username !== '' || parsed.password !== '';
  } catch {
    return false;
  }
}

/**
 * An http(s) URL variable without `user:password@`: `fetch` refuses such a URL on every request
 * (each job failed, quoting the password). `instead` says where the credential belongs.
 */
export function httpUrl(instead: string) {
  return z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).refine((url) => !hasUserinfo(url), {
    error: `must not carry a user name or password (user:password@…): ${instead}`,
  });
}
