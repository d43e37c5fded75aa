/**
 * Whether an error means Redis cannot take writes right now (503 + Retry-After: the sender's retry
 * may succeed), as opposed to a fault of ours or of the request (500: logged as a bug, and never
 * blamed on Redis).
 */

// Replies of a Redis that is up but refuses writes for now: memory full (noeviction), loading its
// data, a replica or a primary without its replicas, a cluster reconfiguring, a busy script, a
// primary being demoted under a blocked command (UNBLOCKED).
const UNAVAILABLE_REPLIES =
  /^(OOM|LOADING|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|BUSY|MOVED|ASK|UNBLOCKED)\b/;

// Connection-level failures of ioredis and the sockets under it; with Sentinel, the sentinels
// unreachable, and the unanswered tail of a pipeline aborted when a failover closed the connection.
const CONNECTION_MESSAGES =
  /Connection is closed|Stream isn't writeable|enableOfflineQueue|Reached the max retries per request|Failed to refresh slots cache|None of startup nodes is available|Command timed out|Connection timeout|All sentinels are unreachable|Command aborted due to connection close/i;

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

const CONNECTION_ERROR_NAMES = new Set(['MaxRetriesPerRequestError', 'ClusterAllFailedError', 'AbortError']);

export function isUnavailable(error: Error): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
  if (CONNECTION_ERROR_NAMES.has(error.name)) return true;
  if (error.name === 'ReplyError') return UNAVAILABLE_REPLIES.test(error.message);
  return CONNECTION_MESSAGES.test(error.message);
}
