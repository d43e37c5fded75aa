import { createServer, type Server } from 'node:http';

export interface HealthDeps {
  /** Redis answers and every worker runs. */
  isReady: () => Promise<boolean>;
}

/** The worker's own small listener: `/healthz` (process up), `/readyz` (able to work). */
export function createHealthServer(deps: HealthDeps): Server {
  return createServer((req, res) => {
    const reply = (status: number, body: object) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.method !== 'GET') return reply(405, { error: 'method_not_allowed' });
    if (req.url === '/healthz') return reply(200, { status: 'ok' });
    if (req.url === '/readyz') {
      deps.isReady().then(
        (ready) => reply(ready ? 200 : 503, { status: ready ? 'ready' : 'unavailable' }),
        () => reply(503, { status: 'unavailable' }),
      );
      return;
    }
    reply(404, { error: 'not_found' });
  });
}
