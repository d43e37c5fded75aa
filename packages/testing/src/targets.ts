import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type EventType, entityIdOf, familyOf, isEventType } from '@flexprice/contracts';

// Real HTTP servers standing in for the services events are forwarded to: one that answers as
// told and records what it got, one that knows what each event is about (contracts' entity catalog)
// and counts the forwards of each entity in flight.

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
  /** What the target answered. */
  status: number;
}

/** What the target does with the nth request (0-based): a status, optionally after a delay. */
export type Responder = (
  n: number,
  body: string,
) => { status: number; delayMs?: number; headers?: Record<string, string> };

/** A real HTTP server standing in for the service customers are forwarded to. */
export async function startForwardTarget(responder: Responder = () => ({ status: 200 })) {
  const received: Received[] = [];
  let respond = responder;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const n = received.length;
      const { status, delayMs = 0, headers = {} } = respond(n, body);
      received.push({ headers: req.headers, body, at: Date.now(), status });
      const timer = setTimeout(() => res.writeHead(status, headers).end(), delayMs);
      res.on('close', () => clearTimeout(timer));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/provision`,
    received,
    setResponder(next: Responder) {
      respond = next;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export type ForwardTarget = Awaited<ReturnType<typeof startForwardTarget>>;

/** One request to an entity target: which entity, which test sequence number, what it answered. */
export interface EntityRequest {
  /** `<family>:<entity id>` (contracts' catalog), or undefined for an event about no single entity. */
  entity: string | undefined;
  eventType: string;
  seq: number | undefined;
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A forward target that knows what each event is about (from the event type header and contracts'
 * entity catalog): it counts the forwards of each entity in flight at once, and keeps the order in
 * which it acknowledged them. Answers after a random 2-20 ms, with `statusOf(entity)`.
 */
export async function startEntityTarget(statusOf: (entity: string | undefined) => number = () => 200) {
  const requests: EntityRequest[] = [];
  const acknowledged: EntityRequest[] = [];
  const inFlight = new Map<string, number>();
  let maxInFlight = 0;
  let status = statusOf;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const eventType = String(req.headers['x-flexprice-event-type']);
      const event = JSON.parse(body) as Record<string, unknown>;
      const id = isEventType(eventType) ? entityIdOf(eventType, event) : undefined;
      const entity = id === undefined ? undefined : `${familyOf(eventType as EventType)}:${id}`;
      const seq = typeof event.test_seq === 'number' ? event.test_seq : undefined;
      const request = { entity, eventType, seq, status: status(entity), headers: req.headers, body };
      requests.push(request);
      if (entity !== undefined) {
        const now = (inFlight.get(entity) ?? 0) + 1;
        inFlight.set(entity, now);
        maxInFlight = Math.max(maxInFlight, now);
      }
      setTimeout(
        () => {
          if (entity !== undefined) inFlight.set(entity, (inFlight.get(entity) ?? 1) - 1);
          if (request.status >= 200 && request.status < 300) acknowledged.push(request);
          res.writeHead(request.status).end();
        },
        2 + Math.random() * 18,
      );
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`,
    requests,
    acknowledged,
    maxInFlight: () => maxInFlight,
    setStatus(next: (entity: string | undefined) => number) {
      status = next;
    },
    /** The test sequence numbers acknowledged for each entity, in the order they were acknowledged. */
    ackedSeqs(): Map<string, number[]> {
      const byEntity = new Map<string, number[]>();
      for (const { entity, seq } of acknowledged) {
        if (entity === undefined || seq === undefined) continue;
        byEntity.set(entity, [...(byEntity.get(entity) ?? []), seq]);
      }
      return byEntity;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export type EntityTarget = Awaited<ReturnType<typeof startEntityTarget>>;
