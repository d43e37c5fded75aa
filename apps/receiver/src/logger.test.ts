import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino } from 'pino';
import { describe, expect, test } from 'vitest';
import {
  beginRequest,
  bodyRead,
  decidedWebhook,
  decidingWebhook,
  elapsedMs,
  logRequest,
  logRequests,
  probing,
} from './logger.js';
import { createRefusalLog } from './refusal-log.js';

/** A logger writing JSON lines into an array. */
function capture(level = 'info') {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

function request(headers: Record<string, string>, url = '/webhooks/flexprice'): IncomingMessage {
  return { method: 'POST', url, headers } as unknown as IncomingMessage;
}

function response() {
  const headers: Record<string, unknown> = {};
  return { headers, res: { setHeader: (name: string, value: unknown) => (headers[name] = value) } as ServerResponse };
}

describe('request ids', () => {
  test('a plain incoming x-request-id is kept and echoed', () => {
    const { res, headers } = response();
    expect(beginRequest(request({ 'x-request-id': 'req-42' }), res, false).id).toBe('req-42');
    expect(headers['x-request-id']).toBe('req-42');
    expect(headers.connection).toBeUndefined();
  });

  test('an unsafe or missing one is replaced by a fresh UUID; shutdown closes the connection', () => {
    const { res, headers } = response();
    const id = beginRequest(request({ 'x-request-id': 'a b\n{"level":60}' }), res, true).id;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(headers['x-request-id']).toBe(id);
    expect(headers.connection).toBe('close');
    expect(beginRequest(request({}), response().res, false).id).not.toBe(id);
  });
});

describe('connections', () => {
  test('a request with a body closes its connection unless its route read the whole body', () => {
    const withBodies: Record<string, string>[] = [{ 'content-length': '10' }, { 'transfer-encoding': 'chunked' }];
    for (const headers of withBodies) {
      const { res, headers: sent } = response();
      beginRequest(request(headers), res, false);
      expect(sent.connection, JSON.stringify(headers)).toBe('close');
    }
    const { res, headers: sent } = response();
    beginRequest(request({ 'content-length': '0' }), res, false);
    expect(sent.connection).toBeUndefined();
  });
});

describe('request log lines', () => {
  const secretHeaders = {
    'svix-signature': 'v1,c2lnbmF0dXJl',
    authorization: 'Bearer tenant-token-0123456789',
    'x-api-key': 'tenant-token-0123456789',
  };

  test('one line with the id, status, time and webhook outcome; never a header', () => {
    const { logger, lines } = capture();
    const req = request(secretHeaders);
    const start = beginRequest(req, response().res, false);
    logRequest(logger, req, 202, start.id, elapsedMs(start), {
      outcome: 'queued',
      eventType: 'customer.created',
      jobId: 'j1',
    });

    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 30,
      msg: 'request completed',
      requestId: start.id,
      method: 'POST',
      path: '/webhooks/flexprice',
      status: 202,
      webhook: { outcome: 'queued', eventType: 'customer.created', jobId: 'j1' },
    });
    expect(lines[0]?.responseTime).toBeGreaterThanOrEqual(0);
    expect(JSON.stringify(lines)).not.toMatch(/tenant-token|c2lnbmF0dXJl/);
  });

  test('refusals are "request refused", server errors are logged at error level', () => {
    const { logger, lines } = capture();
    const req = request({});
    logRequest(logger, req, 401, 'req-1', 1.5, { outcome: 'unauthorized' });
    logRequest(logger, req, 500, 'req-1', 1.5, { outcome: 'error' });
    expect(lines.map((line) => [line.level, line.msg])).toEqual([
      [30, 'request refused'],
      [50, 'request refused'],
    ]);
  });

  test('a long path is cut, and nothing is built below the configured level', () => {
    const { logger, lines } = capture();
    const req = request({}, `/webhook-events/${'x'.repeat(1000)}`);
    logRequest(logger, req, 404, 'req-1', 1.5);
    expect(String(lines[0]?.path).length).toBeLessThanOrEqual(201);

    const quiet = capture('warn');
    logRequest(quiet.logger, req, 202, 'req-1', 1.5);
    expect(quiet.lines).toHaveLength(0);
  });
});

describe('one logging path for every request', () => {
  /** A response that can close, as Node's does when its connection is done with it. */
  function closable() {
    const events = new EventEmitter();
    const headers: Record<string, unknown> = {};
    const res = Object.assign(events, {
      statusCode: 200,
      writableFinished: true,
      setHeader: (name: string, value: unknown) => (headers[name] = value),
      removeHeader: (name: string) => delete headers[name],
    }) as unknown as ServerResponse;
    return { res, headers, close: () => events.emit('close') };
  }

  test('a route without a decision of its own: one line when the connection closes', () => {
    const { logger, lines } = capture();
    const { res, close } = closable();
    let called = false;
    logRequests(logger, () => false)(request({}, '/healthz'), res, () => {
      called = true;
    });
    expect(called).toBe(true);
    expect(lines).toHaveLength(0);
    close();
    close();
    expect(lines).toMatchObject([{ path: '/healthz', status: 200, requestId: expect.any(String) }]);
  });

  test('a webhook whose client left before the decision: one line, with the decision, once it is made', () => {
    const { logger, lines } = capture();
    const { res, close } = closable();
    const req = request({ 'x-request-id': 'req-left' });
    logRequests(logger, () => false)(req, res, () => {});
    expect(decidingWebhook(res).id).toBe('req-left');
    close();
    expect(lines).toHaveLength(0);
    decidedWebhook(logger, req, res, 503, { outcome: 'unavailable' });
    expect(lines).toMatchObject([{ requestId: 'req-left', status: 503, webhook: { outcome: 'unavailable' } }]);
  });

  test('a client that left before a route answered is logged as 499, not as the unsent 200', () => {
    const { logger, lines } = capture();
    const { res, close } = closable();
    Object.assign(res, { writableFinished: false });
    logRequests(logger, () => false)(request({}, '/readyz'), res, () => {});
    close();
    expect(lines).toMatchObject([{ path: '/readyz', status: 499 }]);
  });

  test('a webhook handler mounted without it says so', () => {
    expect(() => decidingWebhook(closable().res)).toThrow('logRequests() must be mounted before the webhook routes');
  });

  test('a body read whole keeps the connection, unless shutting down', () => {
    for (const shuttingDown of [false, true]) {
      const { res, headers } = closable();
      logRequests(capture().logger, () => shuttingDown)(request({ 'content-length': '2' }), res, () => {});
      expect(headers.connection).toBe('close');
      bodyRead(res);
      expect(headers.connection).toBe(shuttingDown ? 'close' : undefined);
    }
  });

  test('health probes are logged at debug level while they succeed', () => {
    const { logger, lines } = capture('debug');
    for (const status of [200, 503]) {
      const { res, close } = closable();
      Object.assign(res, { statusCode: status });
      logRequests(logger, () => false)(request({}, '/readyz'), res, () => probing(res));
      close();
    }
    expect(lines.map((line) => [line.status, line.level])).toEqual([
      [200, 20],
      [503, 50],
    ]);
  });

  test('refusals of unauthenticated senders: a few lines and a count; an authenticated sender is heard in full', () => {
    const { logger, lines } = capture();
    const refusals = createRefusalLog(logger);
    const send = (url: string, status: number, authenticated: boolean) => {
      const { res, close } = closable();
      const req = request({}, url);
      logRequests(logger, () => false, refusals)(req, res, () => {});
      decidingWebhook(res);
      decidedWebhook(logger, req, res, status, { outcome: status === 401 ? 'unauthorized' : 'invalid' }, authenticated);
      close();
    };
    for (let i = 0; i < 100; i++) send('/webhooks/flexprice', 401, false);
    for (let i = 0; i < 10; i++) send('/webhooks/flexprice', 422, true);
    expect(lines.filter((line) => line.status === 401)).toHaveLength(5);
    expect(lines.filter((line) => line.status === 422)).toHaveLength(10);
    refusals.close();
    expect(lines.at(-1)).toMatchObject({
      status: 401,
      unlogged: 95,
      msg: 'requests refused and not logged one by one',
    });
  });
});
