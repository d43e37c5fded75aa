import type { RedisClient } from '@flexprice/runtime';

/**
 * Evidence that an entity is gone, before a 404 from Flexprice's API is acted on. One 404 proves
 * little: a gateway during a deploy, a replica behind, a proxy in the way all answer it for an
 * entity that exists. A job's 404 counts only when the same job read 404 again at least
 * `confirmMs` later (Redis' clock, so the workers' clocks do not matter), with no read that found
 * the entity in between: such a read clears the job's mark (`clear`), so the next 404 starts over.
 *
 *   <prefix>:not-found:<job id>   string, with a TTL: the job's first 404 (its age is the PTTL's)
 *
 * The mark lives ten windows (at least ten minutes): a job replayed long after starts over.
 */
export interface NotFoundOptions {
  prefix: string;
  /** FLEXPRICE_API_NOT_FOUND_CONFIRM_MS: how far apart the two 404s of a job must be. */
  confirmMs: number;
}

export type NotFoundVerdict = { confirmed: true } | { confirmed: false; readAgainInMs: number };

export function createNotFoundConfirmation(redis: RedisClient, options: NotFoundOptions) {
  const { confirmMs } = options;
  const ttlMs = Math.max(10 * confirmMs, 600_000);
  return {
    /** The job (`jobId`) read a 404: confirmed, or when to read again. */
    async check(jobId: string): Promise<NotFoundVerdict> {
      const key = `${options.prefix}:not-found:${jobId}`;
      if ((await redis.set(key, '1', 'PX', ttlMs, 'NX')) === 'OK')
        return { confirmed: false, readAgainInMs: confirmMs };
      const left = await redis.pttl(key);
      // (Expired between the two calls: this read is a first one again.)
      if (left < 0) return { confirmed: false, readAgainInMs: confirmMs };
      const elapsed = ttlMs - left;
      if (elapsed < confirmMs) return { confirmed: false, readAgainInMs: confirmMs - elapsed };
      await redis.del(key);
      return { confirmed: true };
    },

    /** A read of the job found the entity: an earlier 404 of the job proves nothing any more. */
    async clear(jobId: string): Promise<void> {
      await redis.del(`${options.prefix}:not-found:${jobId}`);
    },
  };
}

export type NotFoundConfirmation = ReturnType<typeof createNotFoundConfirmation>;
