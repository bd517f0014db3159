import { createServer, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { readiness, type ReadinessCheck } from './readiness';

/** Options for {@link startMetricsServer}. */
export interface MetricsServerOptions {
  registry: Registry;
  port: number;
  /** Listen address. @default 0.0.0.0 */
  host?: string;
  /** Dependencies /readyz checks. @default none (always ready) */
  checks?: ReadinessCheck[];
}

/**
 * Serves GET /metrics (Prometheus), /healthz (process alive) and /readyz (dependencies up) on a port of
 * its own: each worker's, and the API's (API_METRICS_PORT, kept off the public port).
 */
export function startMetricsServer(opts: MetricsServerOptions): Promise<Server> {
  const { registry } = opts;
  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      registry
        .metrics()
        .then((body) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(body);
        })
        .catch(() => {
          res.writeHead(500);
          res.end();
        });
    } else if (req.url === '/healthz') {
      json(res, 200, { status: 'ok' });
    } else if (req.url === '/readyz') {
      readiness(opts.checks ?? []).then(
        (r) => json(res, r.status === 'ready' ? 200 : 503, r),
        () => json(res, 503, { status: 'not_ready' }),
      );
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => resolve(server));
  });
}
