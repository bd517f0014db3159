import { Router } from 'express';
import { readiness, type ReadinessCheck } from '../../observability/readiness';

export type { ReadinessCheck };

/**
 * The API's dependencies: Temporal, PostgreSQL and Redis, and with eager workflow start its own
 * workflow worker (`workflow-worker`: running and connected).
 */
export function readinessChecks(deps: {
  workflows: { ping(): Promise<void> };
  pool: { query(sql: string): Promise<unknown> };
  redis: { ping(): Promise<unknown> };
  worker?: { ready(): Promise<void> };
}): ReadinessCheck[] {
  const worker = deps.worker;
  return [
    { name: 'temporal', check: () => deps.workflows.ping() },
    { name: 'postgres', check: () => deps.pool.query('SELECT 1') },
    { name: 'redis', check: () => deps.redis.ping() },
    ...(worker ? [{ name: 'workflow-worker', check: () => worker.ready() }] : []),
  ];
}

/**
 * /healthz (process alive) and /readyz (every dependency answers, else 503). /metrics is not here:
 * the API serves it on API_METRICS_PORT (src/api/main.ts), never on the public port.
 */
export function healthRoutes(deps: { checks: ReadinessCheck[] }): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  router.get('/readyz', async (_req, res) => {
    const r = await readiness(deps.checks);
    if (r.status !== 'ready') res.setHeader('Retry-After', '1');
    res.status(r.status === 'ready' ? 200 : 503).json(r);
  });
  return router;
}
