import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RedisClient } from '@flexprice/runtime';
import { TEST_OTHER_SECRET, TEST_SECRET, TEST_STATIC_AUTH, uniquePrefix } from '@flexprice/testing';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { createReceiver } from '../src/receiver.js';

/** The test secrets, static header and signed deliveries, from @flexprice/testing (written once). */
export { signedHeaders } from '@flexprice/testing';
export const SECRET = TEST_SECRET;
export const OTHER_SECRET = TEST_OTHER_SECRET;
export const STATIC_HEADER = TEST_STATIC_AUTH.header;
export const STATIC_TOKEN = TEST_STATIC_AUTH.token;

export interface TestReceiver {
  /** The webhook port. */
  url: string;
  /** The ops listener (RECEIVER_METRICS_PORT): /metrics, the detailed /readyz. */
  metricsUrl: string;
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
    // Completed jobs kept, for the tests to count and read back (production removes them at once).
    JOB_KEEP_COMPLETED: '100000',
    ...env,
  });
  const receiver = await createReceiver(config, pino({ level: 'silent' }));
  const { redis: connection } = receiver;
  connection.on('error', () => {});
  const server: Server = receiver.createServer().listen(0, '127.0.0.1');
  const metricsServer: Server = receiver.createMetricsServer().listen(0, '127.0.0.1');
  await Promise.all([once(server, 'listening'), once(metricsServer, 'listening')]);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const metricsUrl = `http://127.0.0.1:${(metricsServer.address() as AddressInfo).port}`;
  const inspectors: Queue[] = [];

  return {
    url,
    metricsUrl,
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
      metricsServer.closeAllConnections();
      await Promise.all([server, metricsServer].map((s) => new Promise((resolve) => s.close(resolve))));
      await Promise.all(inspectors.map((queue) => queue.close()));
      await receiver.close();
    },
  };
}
