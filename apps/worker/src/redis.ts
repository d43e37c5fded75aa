import { Redis } from 'ioredis';

/** The store's own connection: patient, like the worker's (commands wait out a Redis restart). */
export function createStoreConnection(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null });
}

/** PING with a deadline, for /readyz. */
export async function ping(redis: Redis, timeoutMs = 1_000): Promise<boolean> {
  if (redis.status !== 'ready') return false;
  let timer: NodeJS.Timeout | undefined;
  try {
    const answer = await Promise.race([
      redis.ping(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('ping timed out')), timeoutMs);
      }),
    ]);
    return answer === 'PONG';
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
