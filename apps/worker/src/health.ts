import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface HealthDeps {
  /** Redis answers and every worker runs. */
  isReady: () => Promise<boolean>;
  /** Why it is not ready, when something more specific than Redis is the reason. */
  problems?: () => string[];
  metrics: Registry;
}

/** The worker's own small listener: `/healthz` (process up), `/readyz` (able to work), `/metrics`. */
export function createHealthServer(deps: HealthDeps): Server {
  return createServer((req, res) => {
    const reply = (status: number, body: object) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.method !== 'GET') return reply(405, { error: 'method_not_allowed' });
    if (req.url === '/healthz') return reply(200, { status: 'ok' });
    if (req.url === '/readyz') {
      deps.isReady().then(
        (ready) => {
          const problems = deps.problems?.() ?? [];
          reply(ready ? 200 : 503, {
            status: ready ? 'ready' : 'unavailable',
            ...(problems.length > 0 && { problems }),
          });
        },
        () => reply(503, { status: 'unavailable' }),
      );
      return;
    }
    if (req.url === '/metrics') {
      deps.metrics.metrics().then(
        (text) => res.writeHead(200, { 'content-type': deps.metrics.contentType }).end(text),
        () => reply(500, { error: 'metrics_unavailable' }),
      );
      return;
    }
    reply(404, { error: 'not_found' });
  });
}
