import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { reportRedisErrors } from './logger.js';
import { createOpsServer, plainReadiness } from './ops-server.js';

describe('reportRedisErrors', () => {
  it('tells each new error at once, and a repeated one once per period with how many repeats it left out', () => {
    const lines: unknown[] = [];
    const emitter = new EventEmitter();
    reportRedisErrors(emitter, { warn: (line: unknown) => lines.push(line) } as never, 'store', 60_000);
    for (let i = 0; i < 5; i += 1) emitter.emit('error', new Error(`ECONNREFUSED ${i}`));
    for (let i = 0; i < 5; i += 1) emitter.emit('error', new Error('ECONNREFUSED'));
    emitter.emit('error', new Error('NOAUTH Authentication required.'));
    expect(lines).toEqual([
      { what: 'store', error: 'ECONNREFUSED 0' },
      { what: 'store', error: 'ECONNREFUSED 1' },
      { what: 'store', error: 'ECONNREFUSED 2' },
      { what: 'store', error: 'ECONNREFUSED 3' },
      { what: 'store', error: 'ECONNREFUSED 4' },
      { what: 'store', error: 'ECONNREFUSED' },
      { what: 'store', error: 'NOAUTH Authentication required.', repeatedBefore: 4 },
    ]);
  });
});

describe('the ops server', () => {
  it('answers /healthz, /readyz with its problems, /metrics, and 404 or 405 otherwise', async () => {
    let ready = true;
    const server = createOpsServer({
      isReady: async () => ready,
      problems: () => (ready ? [] : ['flexprice_api_unauthorized']),
      metrics: { contentType: 'text/plain; version=0.0.4', metrics: async () => 'up 1\n' },
    }).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const url = (path: string) => `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
    try {
      expect(await (await fetch(url('/healthz'))).json()).toEqual({ status: 'ok' });
      expect((await fetch(url('/readyz'))).status).toBe(200);
      ready = false;
      const notReady = await fetch(url('/readyz'));
      expect([notReady.status, await notReady.json()]).toEqual([
        503,
        { status: 'unavailable', problems: ['flexprice_api_unauthorized'] },
      ]);
      expect(await (await fetch(url('/metrics'))).text()).toBe('up 1\n');
      expect((await fetch(url('/admin'))).status).toBe(404);
      expect((await fetch(url('/healthz'), { method: 'POST' })).status).toBe(405);
      const head = await fetch(url('/readyz'), { method: 'HEAD' });
      expect([head.status, await head.text()]).toEqual([503, '']);
    } finally {
      server.close();
    }
  });

  it('is not ready while an (asynchronous) problem is reported, even when its dependencies answer', async () => {
    let replicas = 0;
    const server = createOpsServer({
      isReady: async () => true,
      problems: async () => (replicas < 1 ? [`redis_replicas: ${replicas} connected`] : []),
    }).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`;
    try {
      const answer = await fetch(url);
      expect([answer.status, await answer.json()]).toEqual([
        503,
        { status: 'unavailable', problems: ['redis_replicas: 0 connected'] },
      ]);
      replicas = 1;
      expect((await fetch(url)).status).toBe(200);
    } finally {
      server.close();
    }
  });

  it('without details (plainReadiness): ready or not from the same checks, never why, and no /metrics', async () => {
    let problems: string[] = ['redis_replicas: 0 connected'];
    const server = createOpsServer(
      plainReadiness({
        isReady: async () => true,
        problems: async () => problems,
        metrics: { contentType: 'text/plain; version=0.0.4', metrics: async () => 'up 1\n' },
      }),
    ).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const url = (path: string) => `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
    const answer = async (path: string) => {
      const res = await fetch(url(path));
      return [res.status, await res.json()];
    };
    try {
      expect(await answer('/readyz')).toEqual([503, { status: 'unavailable' }]);
      problems = [];
      expect(await answer('/readyz')).toEqual([200, { status: 'ready' }]);
      expect((await fetch(url('/metrics'))).status).toBe(404);
    } finally {
      server.close();
    }
  });
});
