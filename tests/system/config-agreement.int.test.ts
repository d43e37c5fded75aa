// Receivers and workers that must agree on what is queued (issue 24, item 4): built processes on a
// real Redis. Each records its configuration there; a worker that cannot process what a live
// receiver queues says so in /readyz, a gauge and its log, and keeps processing the rest.
import { currentCustomer, customerEvent } from '@flexprice/contracts/fixtures';
import { freePort, metricValue, redisTest } from '@flexprice/testing';
import { describe, expect } from 'vitest';
import { postWebhook, type System, startSystem } from './system-support.js';

const test = redisTest.extend('system', async ({ redis }, { onCleanup }) => {
  const system = await startSystem(redis);
  onCleanup(() => system.close());
  return system;
});

/** A worker process of the system, with its ops port. */
async function startWorker(system: System, env: Record<string, string> = {}) {
  const port = await freePort();
  const proc = await system.worker({ WORKER_METRICS_PORT: String(port), ...env });
  const ops = (path: string) => fetch(`http://127.0.0.1:${port}${path}`);
  return {
    proc,
    readyz: () =>
      ops('/readyz').then(
        async (res) => ({ status: res.status, body: (await res.json()) as { status: string; problems?: string[] } }),
        () => undefined,
      ),
    gauge: async (name: string) => metricValue(await (await ops('/metrics')).text(), name),
  };
}

describe('a worker and the live receivers, on one QUEUE_PREFIX', () => {
  test('a receiver queues invoices, a worker has no invoice route: that worker says so and runs on; one that agrees is ready', async ({
    system,
  }) => {
    const invoices = { ENQUEUE_EVENTS: 'customer.*,invoice.*', FORWARD_ROUTES: `invoice.*=${system.target.url}` };
    const receiver = await system.receiver(invoices);

    // ENQUEUE_EVENTS and FORWARD_ROUTES left as they were: customers only.
    const behind = await startWorker(system);
    await expect.poll(behind.readyz, { timeout: 20_000, interval: 200 }).toEqual({
      status: 503,
      body: {
        status: 'unavailable',
        problems: [
          expect.stringMatching(
            /^config_mismatch: 1 of 1 live receivers \(.+\) queue invoice\.update\.finalized, .*which this worker has no handler for; it does not consume invoice, whose jobs wait/,
          ),
        ],
      },
    });
    expect(await behind.gauge('flexprice_config_mismatch')).toBe(1);
    expect(await behind.gauge('flexprice_config_receivers')).toBe(1);
    expect(behind.proc.output()).toContain('configuration mismatch with the live receivers');
    // Not a refusal: it still processes what it can.
    const customer = customerEvent('customer.created', currentCustomer({ id: 'cust_agreement_1' }));
    expect((await postWebhook(receiver.port, customer, 'signed')).status).toBe(202);
    await expect.poll(() => system.target.received.length, { timeout: 15_000 }).toBe(1);

    const agreeing = await startWorker(system, invoices);
    await expect
      .poll(agreeing.readyz, { timeout: 20_000, interval: 200 })
      .toEqual({ status: 200, body: { status: 'ready' } });
    expect(await agreeing.gauge('flexprice_config_mismatch')).toBe(0);
    expect(await agreeing.gauge('flexprice_config_receivers')).toBe(1);
    expect(behind.proc.child.exitCode).toBeNull();
  });
});
