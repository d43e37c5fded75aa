import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RedisClient } from '@flexprice/runtime';
import { uniquePrefix } from '@flexprice/testing';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { Webhook } from 'standardwebhooks';
import { loadConfig } from '../src/config.js';
import { createReceiver } from '../src/receiver.js';

/** Two valid Standard Webhooks secrets (base64 of 24 random-looking bytes). */
export const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
export const OTHER_SECRET = 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD';
export const STATIC_HEADER = 'X-Api-Key';
export const STATIC_TOKEN = 'tenant-token-0123456789abcdef';

/** Headers of a Standard Webhooks delivery, signed with `secret` over `body`. */
export function signedHeaders(
  body: string,
  options: { secret?: string; id?: string; timestampSeconds?: number; family?: 'svix' | 'webhook' } = {},
): Record<string, string> {
  const { secret = SECRET, family = 'svix' } = options;
  const id = options.id ?? `msg_${uniquePrefix('d')}`;
  const timestampSeconds = options.timestampSeconds ?? Math.floor(Date.now() / 1000);
  const signature = new Webhook(secret).sign(id, new Date(timestampSeconds * 1000), body);
  return {
    'content-type': 'application/json',
    [`${family}-id`]: id,
    [`${family}-timestamp`]: String(timestampSeconds),
    [`${family}-signature`]: signature,
  };
}

export interface TestReceiver {
  url: string;
  prefix: string;
  connection: RedisClient;
  post(path: string, body: string | Uint8Array, headers: Record<string, string>): Promise<Response>;
  /** A BullMQ handle on one of this receiver's queues, for inspecting what was queued. */
  queue(name: string): Queue;
  close(): Promise<void>;
}

/**
 * The receiver app as `main.ts` composes it, against a real Redis, on an ephemeral port, with a
 * queue prefix of its own. `env` is what the process environment would hold.
 */
export async function startReceiver(redisUrl: string, env: Record<string, string> = {}): Promise<TestReceiver> {
  const prefix = uniquePrefix('recv');
  const config = loadConfig({
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    FLEXPRICE_WEBHOOK_SECRET: `${OTHER_SECRET} ${SECRET}`,
    ENQUEUE_TIMEOUT_MS: '1000',
    ...env,
  });
  const receiver = await createReceiver(config, pino({ level: 'silent' }));
  const { redis: connection } = receiver;
  connection.on('error', () => {});
  const server: Server = receiver.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const inspectors: Queue[] = [];

  return {
    url,
    prefix,
    connection,
    post: (path, body, headers) => fetch(`${url}${path}`, { method: 'POST', body, headers }),
    queue(name) {
      const queue = new Queue(name, { connection: { url: redisUrl }, prefix });
      queue.on('error', () => {});
      inspectors.push(queue);
      return queue;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await Promise.all(inspectors.map((queue) => queue.close()));
      await receiver.close();
    },
  };
}
