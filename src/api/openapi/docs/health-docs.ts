import { z } from 'zod';
import { defineRoutes } from '../route-doc';

const tag = 'Operations';

/** Up or down per dependency, never why (src/observability/readiness.ts). */
const readiness = z.object({
  status: z.enum(['ready', 'not_ready']),
  checks: z.record(z.string(), z.object({ status: z.enum(['ok', 'down']) })),
});

/** src/api/routes/health-routes.ts. */
export const healthRouteDocs = defineRoutes([
  {
    method: 'get',
    path: '/healthz',
    tag,
    auth: 'none',
    summary: 'Process alive',
    responses: { 200: { description: 'Alive', schema: z.object({ status: z.literal('ok') }) } },
  },
  {
    method: 'get',
    path: '/readyz',
    tag,
    auth: 'none',
    summary: 'Temporal, PostgreSQL and Redis reachable',
    responses: {
      200: { description: 'Ready', schema: readiness },
      503: {
        description: 'Not ready: which dependency is down (why is in the log, not here)',
        schema: readiness,
      },
    },
  },
]);
