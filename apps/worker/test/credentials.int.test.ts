import { Writable } from 'node:stream';
import { FAMILY_FIXTURES } from '@flexprice/contracts/fixtures';
import { createLogger } from '@flexprice/runtime';
import { freePort, redisTest, uniquePrefix } from '@flexprice/testing';
import { Queue } from 'bullmq';
import { describe, expect } from 'vitest';
import { loadConfig } from '../src/config.js';
import { startWorker } from '../src/service.js';
import { enqueue, FORWARD_SECRET, settled } from './support.js';

// Issue 20, item 4: a forward URL with user:password@ was accepted; fetch refused every forward,
// and the password reached the log and each job's failure reason (the dashboard, `pnpm dlq list`).
// The configuration now refuses user:password@, but a query may still hold a token, and a library's
// message may quote a URL: neither reaches a failure reason, a stack trace or a log line.

const CREDENTIAL = 's3cret';

describe('a failed forward never shows a credential of its URL', () => {
  redisTest('not in the failure reason, the stack trace or any log line', { timeout: 30_000 }, async ({ redis }) => {
    const prefix = uniquePrefix('cred');
    const closed = await freePort(); // nothing listens: every forward there fails to connect
    const config = loadConfig({
      REDIS_URL: redis.url,
      QUEUE_PREFIX: prefix,
      STORE_PREFIX: `${prefix}-store`,
      ENQUEUE_EVENTS: 'customer.*,invoice.*',
      // A token in the query is accepted (some targets want one)...
      CUSTOMER_FORWARD_URL: `http://127.0.0.1:${closed}/customers?token=${CREDENTIAL}`,
      CUSTOMER_FORWARD_SECRET: FORWARD_SECRET,
      FORWARD_ROUTES: `invoice.*=http://127.0.0.1:${closed}/invoices`,
      FORWARD_SECRET,
    });
    // ...user:password@ is refused at start (config tests): as the apps landed it was not.
    const routes = config.routes.map((route) =>
      route.pattern === 'invoice.*'
        ? { ...route, url: `http://ops:${CREDENTIAL}@127.0.0.1:${closed}/invoices` }
        : route,
    );
    let logs = '';
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logs += chunk.toString();
        done();
      },
    });
    const worker = startWorker({ ...config, routes }, createLogger('worker', { level: 'debug', destination: sink }));
    const customers = new Queue('flexprice.customer', { connection: { url: redis.url }, prefix });
    const invoices = new Queue('flexprice.invoice', { connection: { url: redis.url }, prefix });
    try {
      const customer = FAMILY_FIXTURES.customer[0] as Record<string, unknown>;
      const invoice = FAMILY_FIXTURES.invoice[0] as Record<string, unknown>;
      const customerJob = await enqueue(
        customers,
        'customer.created',
        { ...customer, event_type: 'customer.created' },
        { attempts: 1 },
      );
      const invoiceJob = await enqueue(
        invoices,
        'invoice.update.payment',
        { ...invoice, event_type: 'invoice.update.payment' },
        { attempts: 1 },
      );
      const ended = [await settled(customers, customerJob), await settled(invoices, invoiceJob)];
      for (const { state, job } of ended) {
        expect(state).toBe('failed');
        expect(job.failedReason).toMatch(/^forward to http:\/\/127\.0\.0\.1:\d+\/(customers|invoices) failed: /);
        expect(job.failedReason).not.toContain(CREDENTIAL);
        expect(JSON.stringify(job.stacktrace)).not.toContain(CREDENTIAL);
      }
      await expect.poll(() => logs).toContain('job failed for good');
      expect(logs).not.toContain(CREDENTIAL);
    } finally {
      await worker.close(5_000);
      await customers.close();
      await invoices.close();
    }
  });
});
