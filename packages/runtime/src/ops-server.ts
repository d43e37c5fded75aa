import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/** What the ops endpoints report. */
export interface OpsDeps {
  /** Able to work (Redis answers, the workers run, …): `/readyz`. */
  isReady: () => Promise<boolean>;
  /** Why it is not ready, when something more specific than Redis is the reason: any makes it not ready. */
  problems?: () => string[] | Promise<string[]>;
  /** Prometheus text for `/metrics`; absent: no `/metrics`. */
  metrics?: { contentType: string; metrics(): Promise<string> };
}

export const OPS_PATHS = ['/healthz', '/readyz', '/metrics'] as const;
export type OpsPath = (typeof OPS_PATHS)[number];

/**
 * Answers `GET` (and `HEAD`) `/healthz` (the process is up), `/readyz` (it can work: 200, or 503
 * with the problems) and `/metrics`, the same way in every app. A router that matched the route
 * itself passes the endpoint (Express matches `/HEALTHZ` and `/healthz/` too); otherwise the URL's
 * path decides. Returns false when the request is none of them, and writes nothing then: the
 * caller answers it (a 404, or the next route).
 */
export function handleOps(deps: OpsDeps, req: IncomingMessage, res: ServerResponse, endpoint?: OpsPath): boolean {
  const path = endpoint ?? (req.url ?? '').split('?', 1)[0];
  if (!OPS_PATHS.includes(path as OpsPath)) return false;
  if (path === '/metrics' && !deps.metrics) return false;
  const head = req.method === 'HEAD';
  const reply = (status: number, body: object) => {
    res
      .writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
      .end(head ? undefined : JSON.stringify(body));
  };
  if (req.method !== 'GET' && !head) {
    reply(405, { error: 'method_not_allowed' });
    return true;
  }
  if (path === '/healthz') {
    reply(200, { status: 'ok' });
  } else if (path === '/readyz') {
    Promise.all([deps.isReady(), deps.problems?.() ?? []]).then(
      ([isReady, problems]) => {
        const ready = isReady && problems.length === 0;
        reply(ready ? 200 : 503, { status: ready ? 'ready' : 'unavailable', ...(problems.length > 0 && { problems }) });
      },
      () => reply(503, { status: 'unavailable' }),
    );
  } else if (deps.metrics) {
    const { metrics } = deps;
    metrics.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(head ? undefined : text),
      () => reply(500, { error: 'metrics_unavailable' }),
    );
  }
  return true;
}

/**
 * The same readiness without its reasons and without `/metrics`: for a port that faces the internet
 * (the receiver's webhook port), where a load balancer needs ready or not, and the reasons (replica
 * counts, Redis' memory policy) would tell strangers about the internals. Any problem still makes it
 * not ready.
 */
export function plainReadiness(deps: OpsDeps): OpsDeps {
  return {
    isReady: async () => {
      const [ready, problems] = await Promise.all([deps.isReady(), deps.problems?.() ?? []]);
      return ready && problems.length === 0;
    },
  };
}

/** A listener of its own for the ops endpoints (the worker's, the receiver's metrics port), 404 for anything else. */
export function createOpsServer(deps: OpsDeps): Server {
  return createServer((req, res) => {
    if (!handleOps(deps, req, res))
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}');
  });
}
