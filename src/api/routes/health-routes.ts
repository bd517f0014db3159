import { Router } from 'express';
import type { Registry } from 'prom-client';

/** A dependency the API needs to serve: named, with a check that throws when it is down. */
export interface ReadinessCheck {
  name: string;
  check: () => Promise<unknown>;
}

/** The API's dependencies: Temporal, PostgreSQL and Redis. */
export function readinessChecks(deps: {
  workflows: { ping(): Promise<void> };
  pool: { query(sql: string): Promise<unknown> };
  redis: { ping(): Promise<unknown> };
}): ReadinessCheck[] {
  return [
    { name: 'temporal', check: () => deps.workflows.ping() },
    { name: 'postgres', check: () => deps.pool.query('SELECT 1') },
    { name: 'redis', check: () => deps.redis.ping() },
  ];
}

/** /healthz (process alive), /readyz (every dependency answers) and /metrics. */
export function healthRoutes(deps: { checks: ReadinessCheck[]; registry: Registry }): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  router.get('/readyz', async (_req, res) => {
    const results = await Promise.all(
      deps.checks.map(async (c) => {
        const timeout = new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('timeout after 2s')), 2000).unref(),
        );
        try {
          await Promise.race([c.check(), timeout]);
          return [c.name, { status: 'ok' }] as const;
        } catch (err) {
          return [c.name, { status: 'down', error: (err as Error).message }] as const;
        }
      }),
    );
    const ready = results.every(([, r]) => r.status === 'ok');
    res.status(ready ? 200 : 503).json({
      status: ready ? 'ready' : 'not_ready',
      checks: Object.fromEntries(results) as Record<string, { status: string; error?: string }>,
    });
  });
  router.get('/metrics', async (_req, res) => {
    res.type(deps.registry.contentType).send(await deps.registry.metrics());
  });
  return router;
}
