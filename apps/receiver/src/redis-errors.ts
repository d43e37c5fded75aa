/**
 * Whether an error means Redis cannot take writes right now (503 + Retry-After: the sender's retry
 * may succeed), as opposed to a fault of ours or of the request (500: logged as a bug, and never
 * blamed on Redis).
 */

// Replies of a Redis that is up but refuses writes for now: memory full (noeviction), loading its
// data, a replica or a primary without its replicas, a cluster reconfiguring, a busy script.
const UNAVAILABLE_REPLIES = /^(OOM|LOADING|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|BUSY|MOVED|ASK)\b/;

// Connection-level failures of ioredis and the sockets under it.
const CONNECTION_MESSAGES =
  /Connection is closed|Stream isn't writeable|enableOfflineQueue|Reached the max retries per request|Failed to refresh slots cache|None of startup nodes is available|Command timed out|Connection timeout/i;

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

const CONNECTION_ERROR_NAMES = new Set(['MaxRetriesPerRequestError', 'ClusterAllFailedError']);

export function isUnavailable(error: Error): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
  if (CONNECTION_ERROR_NAMES.has(error.name)) return true;
  if (error.name === 'ReplyError') return UNAVAILABLE_REPLIES.test(error.message);
  return CONNECTION_MESSAGES.test(error.message);
}
