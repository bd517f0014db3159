import { z } from 'zod';
import { defineRoutes } from '../route-doc';

const tag = 'Operations';

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
      200: { description: 'Ready', schema: z.looseObject({ status: z.string() }) },
      503: { description: 'Not ready: the failing check', schema: z.looseObject({ status: z.string() }) },
    },
  },
]);
