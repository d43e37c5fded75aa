import { describe, expect, it } from 'vitest';
import { isUnavailable } from './redis-errors.js';

function replyError(message: string): Error {
  const error = new Error(message);
  error.name = 'ReplyError';
  return error;
}

function codeError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:6379`), { code });
}

describe('isUnavailable', () => {
  it.each([
    replyError("OOM command not allowed when used memory > 'maxmemory'."),
    replyError('LOADING Redis is loading the dataset in memory'),
    replyError("READONLY You can't write against a read only replica."),
    replyError('CLUSTERDOWN The cluster is down'),
    codeError('ECONNREFUSED'),
    codeError('ECONNRESET'),
    new Error("Stream isn't writeable and enableOfflineQueue options is false"),
    new Error('Connection is closed.'),
    Object.assign(new Error('Reached the max retries per request limit (which is 1).'), {
      name: 'MaxRetriesPerRequestError',
    }),
    // A failover: the primary demoted under a blocked command, a pipeline cut, no sentinel answering.
    replyError('UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)'),
    Object.assign(new Error('Command aborted due to connection close'), { name: 'AbortError' }),
    new Error('All sentinels are unreachable. Retrying from scratch after 100ms.'),
  ])('is true for Redis being away or refusing writes: $message', (error) => {
    expect(isUnavailable(error)).toBe(true);
  });

  it.each([
    new RangeError('Maximum call stack size exceeded'),
    new TypeError("Cannot read properties of undefined (reading 'id')"),
    replyError('ERR Error running script (call to f_1234): @user_script:1: user_script:1: bad argument'),
    replyError('WRONGTYPE Operation against a key holding the wrong kind of value'),
    new Error('Missing lock for job 12. moveToFinished'),
  ])('is false for faults of ours or of the request: $message', (error) => {
    expect(isUnavailable(error)).toBe(false);
  });
});
